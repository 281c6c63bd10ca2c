"""Page forms for rooms. They validate input; chat.services does the writing."""

import re

from django import forms

from zzalu import text

from .services import MAX_TAGS


class RoomForm(forms.Form):
    name = text.TextFormField(kind=text.ROOM_NAME, label="방 이름")
    description = text.TextFormField(
        kind=text.DESCRIPTION,
        label="소개",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    image_url = text.TextFormField(
        kind=text.URL,
        label="대표 이미지 주소",
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
        # Rules for each tag (length, count, '#') live in services.room_create.
        return [t for t in re.split(r"[,\s]+", self.cleaned_data["tags"]) if t.strip("#")]
