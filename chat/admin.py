from django.contrib import admin

from .models import ChatMessage, ChatRoom, Tag


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ("name",)


@admin.register(ChatRoom)
class ChatRoomAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "like_count", "last_seq", "last_activity_at")
    search_fields = ("name", "description", "tags__name")
    list_filter = ("tags",)
    filter_horizontal = ("tags",)
    readonly_fields = ("like_count", "last_seq", "created_at", "last_activity_at")


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    list_display = ("room", "seq", "sender_nickname", "body", "sent_at", "is_removed")
    search_fields = ("body", "sender_nickname")
    readonly_fields = [f.name for f in ChatMessage._meta.fields]
