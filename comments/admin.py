from django.contrib import admin, messages

from zzalu import text

from . import services
from .models import AwardRecord, Comment, TitleHakwon


class AwardInline(admin.TabularInline):
    model = AwardRecord
    extra = 0
    can_delete = False
    readonly_fields = ("rank", "user", "comment", "like_count")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(TitleHakwon)
class TitleHakwonAdmin(text.TextFieldsAdmin, admin.ModelAdmin):
    text_fields = {"image_url": text.URL}
    list_display = ("open_date", "state", "image_url")
    list_filter = ("state",)
    date_hierarchy = "open_date"
    fields = ("open_date", "image_url", "state")
    readonly_fields = ("state",)
    inlines = [AwardInline]
    actions = ["open_now", "close_now"]

    # "change": comments.change_titlehakwon, which the services check again.
    @admin.action(permissions=["change"], description="Open now")
    def open_now(self, request, queryset):
        opened = sum(services.hakwon_open(hakwon=h, user=request.user) for h in queryset)
        self.message_user(request, f"Opened {opened} title-hakwon(s).", messages.SUCCESS)

    @admin.action(permissions=["change"], description="Close now and record awards")
    def close_now(self, request, queryset):
        awards = sum(len(services.hakwon_close(hakwon=h, user=request.user)) for h in queryset)
        self.message_user(request, f"Closed; {awards} award(s) recorded.", messages.SUCCESS)


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = (
        "content",
        "author",
        "hakwon",
        "parent",
        "like_count",
        "reply_count",
        "is_deleted",
        "created_at",
    )
    list_filter = ("hakwon", "is_deleted")
    search_fields = ("content", "author__username", "author__nickname")
    list_select_related = ("author", "hakwon")
    readonly_fields = [f.name for f in Comment._meta.fields]
    actions = ["moderate_delete"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # deletes go through the moderation action, which tells the watchers

    def has_moderate_permission(self, request):
        return request.user.has_perm(services.DELETE_COMMENTS_PERMISSION)

    # "moderate": the delete permission (above), which services.comment_delete checks again.
    @admin.action(permissions=["moderate"], description="Delete as moderation (watchers see it go)")
    def moderate_delete(self, request, queryset):
        count = 0
        for comment in queryset.filter(is_deleted=False):
            services.comment_delete(comment=comment, user=request.user)
            count += 1
        self.message_user(request, f"Deleted {count} comment(s).", messages.SUCCESS)
