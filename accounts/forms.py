"""Page forms for members. They validate input; accounts.services does the writing."""

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError

from chat.forms import ImageFileField, ServiceErrorsMixin
from zzalu import text

from .models import User
from .passwords import password_rule_attrs, password_rules_help_html

USERNAME_TAKEN = "이미 쓰이고 있는 아이디예요."
PASSWORD_MISMATCH = "두 비밀번호가 달라요."


class SignupForm(forms.Form):
    username = text.TextFormField(
        kind=text.USERNAME,
        label="아이디",
        # The model's own rule (Django's), in our words.
        validators=[UnicodeUsernameValidator(message="글자, 숫자, @ . + - _ 만 쓸 수 있어요.")],
        help_text="로그인할 때 써요. 글자, 숫자, @ . + - _ 만 쓸 수 있어요.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    nickname = text.TextFormField(
        kind=text.NICKNAME,
        label="닉네임",
        required=False,
        help_text="다른 멤버에게 보이는 이름이에요. 비우면 아이디를 써요.",
        widget=forms.TextInput(attrs={"autocomplete": "nickname"}),
    )
    password1 = forms.CharField(
        label="비밀번호",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="비밀번호 확인",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Mirrored for the browser (static/js/forms.js): it clears an error as soon as the field
        # is right again. The checks below stay the authority.
        self.fields["password1"].widget.attrs.update(password_rule_attrs())
        self.fields["password1"].help_text = password_rules_help_html()
        self.fields["password2"].widget.attrs.update(
            {"data-same-as": "password1", "data-error-mismatch": PASSWORD_MISMATCH}
        )

    def clean_username(self):
        username = self.cleaned_data["username"]
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError(USERNAME_TAKEN)
        return username

    def clean(self):
        """Every problem at once: the password's rules under the password, a different
        confirmation under the confirmation (one does not hide the other)."""
        data = super().clean()
        password, again = data.get("password1"), data.get("password2")
        if password:
            username = data.get("username") or str(self.data.get("username", ""))[:150]
            candidate = User(username=username, nickname=data.get("nickname") or "")
            try:
                password_validation.validate_password(password, candidate)
            except ValidationError as exc:
                self.add_error("password1", exc)
        if password and again and password != again:
            self.add_error("password2", PASSWORD_MISMATCH)
        return data


class ProfileForm(ServiceErrorsMixin, forms.Form):
    image_field = "avatar"

    nickname = text.TextFormField(kind=text.NICKNAME, label="닉네임")
    avatar = ImageFileField(label="프로필 이미지 올리기", required=False)
    avatar_remove = forms.BooleanField(label="올린 프로필 이미지 빼기", required=False)
    profile_path = text.TextFormField(
        kind=text.URL,
        label="또는 프로필 이미지 주소",
        required=False,
        help_text="https:// 로 시작하는 이미지 주소 (올린 이미지가 있으면 그것을 보여 줘요)",
    )
    profile_message = text.TextFormField(
        kind=text.PROFILE_MESSAGE, label="한 줄 소개", required=False
    )

    def clean(self):
        data = super().clean()
        if data.get("avatar") and data.get("avatar_remove"):
            self.add_error("avatar_remove", "새 이미지를 올리거나 빼거나, 하나만 골라 주세요.")
        return data
