from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from zzalu.api import WriteThrottle

from .serializers import MemberSerializer, SignupSerializer
from .services import user_create


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


class MeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MemberSerializer)
    def get(self, request):
        return Response(MemberSerializer(request.user).data)
