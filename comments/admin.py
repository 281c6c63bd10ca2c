from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from chat.forms import ImageFileField, upload_error_message
from uploads.images import TooLarge, UnsupportedMedia
from uploads.services import upload_create
from zzalu import text

from . import services
from .models import AwardRecord, Comment, TitleHakwon


class TitleHakwonForm(forms.ModelForm):
    """The day's image: a file the admin uploads (kept as an Upload, shown instead of
    image_url), or an http(s) image_url; neither: the image the project ships."""

    image_file = ImageFileField(label="이미지 올리기", required=False)
    remove_image = forms.BooleanField(label="올린 이미지 빼기", required=False)
    uploader = None  # set per request by TitleHakwonAdmin.get_form

    class Meta:
        model = TitleHakwon
        fields = ("open_date",)  # the admin adds image_url, with the URL text rule

    def clean_image_file(self):
        file = self.cleaned_data.get("image_file")
        if not file:
            return None
        try:  # stored now; an upload the day does not keep is removed by uploads_sweep
            return upload_create(owner=self.uploader, file=file)
        except (UnsupportedMedia, TooLarge) as exc:
            raise ValidationError(upload_error_message(exc), code=exc.code) from exc

    def save(self, commit=True):
        upload = self.cleaned_data.get("image_file")
        if upload is not None:
            self.instance.image = upload
        elif self.cleaned_data.get("remove_image"):
            self.instance.image = None
        return super().save(commit)


class AwardInline(admin.TabularInline):
    model = AwardRecord
    extra = 0
    can_delete = False
    readonly_fields = ("rank", "user", "comment", "like_count")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(TitleHakwon)
class TitleHakwonAdmin(text.TextFieldsAdmin, admin.ModelAdmin):
    form = TitleHakwonForm
    text_fields = {"image_url": text.URL}
    list_display = ("open_date", "state", "image_preview")
    list_filter = ("state",)
    list_select_related = ("image",)
    date_hierarchy = "open_date"
    # A day may be made ahead (a future open_date): the scheduler opens it on its day as is.
    fields = ("open_date", "image_preview", "image_file", "remove_image", "image_url", "state")
    readonly_fields = ("state", "image_preview")
    inlines = [AwardInline]
    actions = ["open_now", "close_now"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.uploader = request.user  # a class made for this request
        return form

    @admin.display(description="이미지")
    def image_preview(self, obj):
        if obj is None or not (obj.image_id or obj.image_url):
            return "없음 (기본 이미지)"
        url = obj.image.thumb_url if obj.image_id else obj.image_url
        return format_html('<img src="{}" alt="" height="96" referrerpolicy="no-referrer">', url)

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
