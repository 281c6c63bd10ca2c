"""Page forms for rooms. They validate input; chat.services does the writing."""

import re

from django import forms
from django.core.exceptions import ValidationError

from .services import MAX_TAGS


class RoomForm(forms.Form):
    name = forms.CharField(label="방 이름", max_length=50)
    description = forms.CharField(
        label="소개", max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    image_url = forms.URLField(
        label="대표 이미지 주소",
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text="https:// 로 시작하는 이미지나 GIF 주소 (선택)",
    )
    tags = forms.CharField(
        label="태그",
        max_length=400,
        required=False,
        help_text=f"쉼표나 띄어쓰기로 구분, 최대 {MAX_TAGS}개 (예: 고양이, 동물)",
    )

    def clean_image_url(self):
        url = self.cleaned_data["image_url"]
        if url and not url.lower().startswith(("http://", "https://")):
            raise ValidationError("http(s) 주소만 쓸 수 있어요.")
        return url

    def clean_tags(self) -> list[str]:
        # Rules for each tag (length, count, '#') live in services.room_create.
        return [t for t in re.split(r"[,\s]+", self.cleaned_data["tags"]) if t.strip("#")]
