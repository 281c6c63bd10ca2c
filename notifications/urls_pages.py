from django.urls import path

from zzalu import converters  # noqa: F401  (registers <id:…>)

from . import views

urlpatterns = [
    path("notifications/", views.notification_list, name="notification-list"),
    path("notifications/read-all/", views.notification_read_all, name="notification-read-all"),
    path("notifications/<id:notification_id>/", views.notification_open, name="notification-open"),
]
