from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenObtainPairView

from zzalu.api import WriteThrottle

from .lockout import is_locked_out, locked_out_response
from .serializers import LogoutSerializer, MemberSerializer, SignupSerializer
from .services import refresh_tokens_revoke, user_create


class SignupApi(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [WriteThrottle]
    throttle_scope = "signup"

    @extend_schema(request=SignupSerializer, responses={201: MemberSerializer})
    def post(self, request):
        data = SignupSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_create(**data.validated_data)
        return Response(MemberSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenApi(TokenObtainPairView):
    """simplejwt's token pair, with password guessing answered 429 (accounts.lockout): axes
    marks DRF's request, which its middleware never sees, so the view answers it."""

    @extend_schema(
        responses={
            200: TokenObtainPairSerializer,
            401: OpenApiTypes.OBJECT,
            429: OpenApiTypes.OBJECT,
        },
        description="A JWT access and refresh token pair for a member's credentials. Too many "
        "failed tries from one address (per account, and in all) answer 429 with "
        "`code: locked_out` and `Retry-After` until the lockout window has passed.",
    )
    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except AuthenticationFailed:
            if is_locked_out(request):
                return locked_out_response(request)
            raise


class MeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MemberSerializer)
    def get(self, request):
        return Response(MemberSerializer(request.user).data)


class LogoutApi(APIView):
    """Log out everywhere: every refresh token of the member is taken back."""

    # The refresh token in the body is the credential: no session (so no CSRF) and no access
    # token needed, which may have expired already.
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [WriteThrottle]

    @extend_schema(
        request=LogoutSerializer,
        responses={204: None, 400: OpenApiTypes.OBJECT, 401: OpenApiTypes.OBJECT},
        description="Takes back every refresh token of the member who owns the given one "
        "(all devices): refreshing with any of them answers 401. Access tokens already "
        "issued stay valid until they expire (JWT_ACCESS_MINUTES).",
    )
    def post(self, request):
        data = LogoutSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            refresh = RefreshToken(data.validated_data["refresh"])
        except TokenError as exc:  # expired, forged or already revoked
            raise InvalidToken(exc.args[0]) from exc
        refresh_tokens_revoke(user_id=refresh[jwt_settings.USER_ID_CLAIM])
        return Response(status=status.HTTP_204_NO_CONTENT)

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'  # so a refused token is a 401, as on the token views
