from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from comments.models import AwardRecord
from zzalu import text

from .models import User


class MemberAwardInline(admin.TabularInline):
    model = AwardRecord
    extra = 0
    can_delete = False
    fields = ("hakwon", "rank", "like_count", "comment")
    readonly_fields = fields
    verbose_name_plural = "awards (title-hakwon)"

    def has_add_permission(self, request, obj=None):
        return False  # awards are recorded when a hakwon closes, never by hand


@admin.register(User)
class MemberAdmin(text.TextFieldsAdmin, UserAdmin):
    text_fields = {
        "username": text.USERNAME,
        "nickname": text.NICKNAME,
        "profile_path": text.URL,
        "profile_message": text.PROFILE_MESSAGE,
    }
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
    inlines = [MemberAwardInline]
