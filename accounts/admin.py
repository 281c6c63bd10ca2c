from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import User


@admin.register(User)
class MemberAdmin(UserAdmin):
    list_display = ("username", "nickname", "email", "is_staff", "is_active", "date_joined")
    search_fields = ("username", "nickname", "email")
    fieldsets = (
        *UserAdmin.fieldsets,
        ("Profile", {"fields": ("nickname", "profile_path", "profile_message")}),
    )
    add_fieldsets = (
        *UserAdmin.add_fieldsets,
        ("Profile", {"fields": ("nickname",)}),
    )
