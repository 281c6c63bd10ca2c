from django.urls import path

from zzalu import converters  # noqa: F401  (registers <id:…>)

from . import views, views_moderation

urlpatterns = [
    path("", views.room_list, name="room-list"),
    path("rooms/new/", views.room_create, name="room-create"),
    path("rooms/<id:room_id>/", views.room_detail, name="room-detail"),
    path("rooms/<id:room_id>/edit/", views.room_edit, name="room-edit"),
    path("rooms/<id:room_id>/like/", views.room_like, name="room-like"),
    path("rooms/<id:room_id>/reports/", views_moderation.room_reports, name="room-reports"),
]
