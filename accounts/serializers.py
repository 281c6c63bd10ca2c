from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import serializers as jwt_serializers

from zzalu import text

from .models import User


class MemberSerializer(serializers.ModelSerializer):
    profile_path = serializers.CharField(read_only=True, help_text="Image URL, or empty.")

    class Meta:
        model = User
        fields = ("id", "username", "nickname", "profile_path", "profile_message")
        read_only_fields = fields


class SignupSerializer(serializers.Serializer):
    username = text.TextSerializerField(
        kind=text.USERNAME,
        validators=[User.username_validator],  # the model's own rule
    )
    password = serializers.CharField(
        write_only=True, max_length=128, style={"input_type": "password"}
    )
    nickname = text.TextSerializerField(kind=text.NICKNAME, required=False, allow_blank=True)
    profile_path = text.TextSerializerField(kind=text.URL, required=False, allow_blank=True)
    profile_message = text.TextSerializerField(
        kind=text.PROFILE_MESSAGE, required=False, allow_blank=True
    )

    def validate_username(self, value):
        if User.objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError("This username is already taken.")
        return value

    def validate(self, attrs):
        candidate = User(username=attrs["username"], nickname=attrs.get("nickname", ""))
        try:
            password_validation.validate_password(attrs["password"], candidate)
        except ValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    """simplejwt's (a deactivated member's refresh answers 401), but a member deleted since
    the token was issued is a 401 too rather than a 500."""

    def validate(self, attrs):
        try:
            return super().validate(attrs)
        except User.DoesNotExist as exc:
            raise AuthenticationFailed(
                self.error_messages["no_active_account"], "no_active_account"
            ) from exc


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField(help_text="A refresh token of the member logging out.")
