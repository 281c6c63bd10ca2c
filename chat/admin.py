"""Rooms and messages for moderators.

Messages are never deleted or edited here: a removal is a ``chat.deleted`` change through Kafka
like every room change (``changes.message_remove``), so open room pages see it go, catch-up
replays it, and ``seq`` numbering stays whole.
"""

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from zzalu import text
from zzalu.kafka import KafkaUnavailable

from . import changes, selectors
from .models import ChatMessage, ChatRoom, MessageChange, Tag

RECENT_MESSAGES = 20


@admin.register(Tag)
class TagAdmin(text.TextFieldsAdmin, admin.ModelAdmin):
    search_fields = ("name",)
    text_fields = {"name": text.TAG}


class RoomChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        # One Redis round trip for the whole page rather than one per row.
        online = selectors.room_online_counts(room_ids=[r.pk for r in self.result_list])
        for room in self.result_list:
            room.online = online.get(room.pk)


@admin.register(ChatRoom)
class ChatRoomAdmin(text.TextFieldsAdmin, admin.ModelAdmin):
    text_fields = {"name": text.ROOM_NAME, "description": text.DESCRIPTION, "image_url": text.URL}
    list_display = (
        "name",
        "owner",
        "message_count",
        "online",
        "last_activity_at",
        "like_count",
    )
    list_select_related = ("owner",)
    search_fields = ("name", "description", "tags__name")
    list_filter = ("tags",)
    filter_horizontal = ("tags",)
    readonly_fields = (
        "like_count",
        "slow_mode_seconds",  # moderation sets it, through the room's log
        "last_seq",
        "created_at",
        "last_activity_at",
        "recent_messages",
    )

    def get_queryset(self, request):
        return selectors.rooms_with_message_counts()

    def get_changelist(self, request, **kwargs):
        return RoomChangeList

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Messages cannot be deleted one by one (see above), but they go with their room.
        perms_needed.discard(ChatMessage._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    @admin.display(description="messages", ordering="message_count")
    def message_count(self, room):
        return room.message_count

    @admin.display(description="online")
    def online(self, room):
        count = getattr(room, "online", None)
        return "?" if count is None else count  # "?": Redis unreachable

    @admin.display(description=f"recent messages (newest {RECENT_MESSAGES})")
    def recent_messages(self, room):
        if room.pk is None:
            return "-"
        history = selectors.message_history(room_id=room.pk, limit=RECENT_MESSAGES)
        if not history:
            return "No messages yet."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    m.seq,
                    timezone.localtime(m.sent_at).strftime("%Y-%m-%d %H:%M:%S"),
                    m.sender_nickname,
                    "(deleted)" if m.is_deleted else (m.body or m.gif_url),
                )
                for m in reversed(history)
            ),
        )
        manage = reverse("admin:chat_chatmessage_changelist") + f"?room__id__exact={room.pk}"
        return format_html(
            "<table><thead><tr><th>seq</th><th>sent</th><th>sender</th><th>message</th></tr>"
            "</thead><tbody>{}</tbody></table>"
            '<p><a href="{}">Moderate this room\'s messages →</a></p>',
            rows,
            manage,
        )


class MessageChangeInline(admin.TabularInline):
    """The message's edits, deletion and reactions, in log order (read only)."""

    model = MessageChange
    fields = ("seq", "kind", "actor_nickname", "body", "emoji", "count", "deleted_by", "at")
    readonly_fields = fields
    ordering = ("seq",)
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    inlines = [MessageChangeInline]
    list_display = (
        "room", "seq", "sender_nickname", "body", "gif_url", "sent_at", "edited_at", "is_deleted",
    )  # fmt: skip
    list_filter = ("is_deleted", "deleted_by")
    list_select_related = ("room",)
    search_fields = ("body", "sender_nickname", "room__name")
    ordering = ("-id",)
    readonly_fields = [f.name for f in ChatMessage._meta.fields]
    actions = ["remove_messages"]

    def has_add_permission(self, request):
        return False  # messages come through Kafka only

    def has_delete_permission(self, request, obj=None):
        return False  # the removal action keeps seq numbering whole and tells open rooms

    # "change": chat.change_chatmessage, which changes.message_remove checks again.
    @admin.action(
        permissions=["change"], description="Remove selected messages (open rooms see them go)"
    )
    def remove_messages(self, request, queryset):
        removed = 0
        try:
            for message in queryset.filter(is_deleted=False):
                changes.message_remove(message=message, user=request.user)
                removed += 1
        except KafkaUnavailable:
            self.message_user(
                request,
                f"Kafka is unavailable: removed {removed}; try the rest again.",
                messages.ERROR,
            )
            return
        self.message_user(
            request, f"Removal of {removed} message(s) sent to the rooms.", messages.SUCCESS
        )
