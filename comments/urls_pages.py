from django.urls import path

from . import views

urlpatterns = [
    path("hakwon/", views.hakwon_today, name="hakwon-today"),
    path("hakwon/<int:hakwon_id>/", views.hakwon_detail, name="hakwon-detail"),
]
