from django.urls import path
from rest_framework_simplejwt.views import TokenRefreshView

from . import apis

urlpatterns = [
    path("auth/signup/", apis.SignupApi.as_view(), name="api-signup"),
    path("auth/token/", apis.TokenApi.as_view(), name="api-token"),
    path("auth/token/refresh/", TokenRefreshView.as_view(), name="api-token-refresh"),
    path("auth/logout/", apis.LogoutApi.as_view(), name="api-logout"),
    path("me/", apis.MeApi.as_view(), name="api-me"),
]
