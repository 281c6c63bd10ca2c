"""Page forms for rooms. They validate input; chat.services does the writing."""

import re

from django import forms
from django.conf import settings

from uploads.images import TooLarge, UnsupportedMedia
from zzalu import text
from zzalu.errors import ServiceError

from .services import MAX_TAGS

IMAGE_TYPES = "image/gif,image/png,image/jpeg,image/webp"


def upload_error_message(exc: ServiceError) -> str:
    """What a page says when uploads.services.upload_create refused a file."""
    if exc.code == TooLarge.code:
        return (
            f"이미지가 너무 커요. 파일은 {settings.MEDIA_MAX_BYTES // 1_000_000}MB, "
            f"움직이는 이미지는 {settings.MEDIA_MAX_FRAMES}프레임까지 올릴 수 있어요."
        )
    return "GIF, PNG, JPEG, WebP 이미지만 올릴 수 있어요 (손상된 파일은 안 돼요)."


class ImageFileField(forms.FileField):
    """An image file for upload_create, which decides from its content what it is."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.FileInput(attrs={"accept": IMAGE_TYPES}))
        kwargs.setdefault("help_text", "GIF, PNG, JPEG, WebP (움직이는 GIF도 돼요)")
        super().__init__(**kwargs)


class ServiceErrorsMixin:
    """Shows a service's refusal on the form: an upload's under ``image``, others under their
    field (or the whole form)."""

    image_field = "image"

    def add_service_error(self, exc: ServiceError) -> None:
        if isinstance(exc, (UnsupportedMedia, TooLarge)):
            self.add_error(self.image_field, upload_error_message(exc))
        else:
            self.add_error(exc.field if exc.field in self.fields else None, exc.detail)


class RoomForm(ServiceErrorsMixin, forms.Form):
    name = text.TextFormField(kind=text.ROOM_NAME, label="방 이름")
    description = text.TextFormField(
        kind=text.DESCRIPTION,
        label="소개",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    image = ImageFileField(label="대표 이미지", required=False)
    image_url = text.TextFormField(
        kind=text.URL,
        label="또는 대표 이미지 주소",
        required=False,
        help_text="https:// 로 시작하는 이미지나 GIF 주소 (선택)",
    )
    tags = forms.CharField(
        label="태그",
        max_length=400,
        required=False,
        help_text=f"쉼표나 띄어쓰기로 구분, 최대 {MAX_TAGS}개 (예: 고양이, 동물)",
    )

    def clean_tags(self) -> list[str]:
        # services.room_create applies the rules again (the API's way in); here they are said
        # in the page's words.
        tags = [t for t in re.split(r"[,\s]+", self.cleaned_data["tags"]) if t.strip("#")]
        if len(tags) > MAX_TAGS:
            raise forms.ValidationError(f"태그는 최대 {MAX_TAGS}개까지 달 수 있어요.")
        tag_field = text.TextFormField(kind=text.TAG)
        for tag in tags:
            try:
                tag_field.to_python(tag.lstrip("#"))
            except forms.ValidationError as exc:
                raise forms.ValidationError(f"#{tag.lstrip('#')[:10]}: {exc.messages[0]}") from exc
        return tags

    def clean(self):
        data = super().clean()
        if data.get("image") and data.get("image_url"):
            self.add_error("image_url", "이미지 파일과 주소 중 하나만 골라 주세요.")
        return data


class RoomImageForm(ServiceErrorsMixin, forms.Form):
    """The owner changes the room's image: a new file, or none at all."""

    image = ImageFileField(label="새 대표 이미지", required=False)
    remove = forms.BooleanField(label="대표 이미지 없애기", required=False)

    def clean(self):
        data = super().clean()
        if data.get("image") and data.get("remove"):
            self.add_error("remove", "새 이미지를 올리거나 없애거나, 하나만 골라 주세요.")
        elif not data.get("image") and not data.get("remove") and not self.errors:
            self.add_error("image", "새 이미지를 고르거나 '대표 이미지 없애기'를 선택해 주세요.")
        return data
