from django.urls import path

from . import apis

urlpatterns = [
    path("media/", apis.MediaApi.as_view(), name="api-media"),
]
