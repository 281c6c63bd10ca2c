from django.urls import path

from zzalu import converters  # noqa: F401  (registers <id:…>)

from . import views

urlpatterns = [
    path("hakwon/", views.hakwon_today, name="hakwon-today"),
    path("hakwon/<id:hakwon_id>/", views.hakwon_detail, name="hakwon-detail"),
]
