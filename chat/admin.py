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
from zzalu.errors import ServiceError
from zzalu.kafka import KafkaUnavailable

from . import changes, moderation, selectors
from .models import ChatMessage, ChatRoom, MessageChange, MessageReport, ModerationAction, Tag

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

    def get_ordering(self, request):
        # One room's messages (the room page links here): newest first by seq, the order they
        # were stored in, which the unique (room, seq) reads without sorting the whole room.
        if "room__id__exact" in request.GET:
            return ("-seq",)
        return super().get_ordering(request)

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


@admin.register(MessageReport)
class MessageReportAdmin(admin.ModelAdmin):
    """The report queue: each reported message with what was said around it, and one-click
    actions that go through the room's log like every moderation action."""

    list_display = ("reported_message", "room", "reporter", "reason", "created_at", "resolved_at")
    list_filter = (("resolved_at", admin.EmptyFieldListFilter),)
    list_select_related = ("message__room", "reporter")
    search_fields = ("reason", "message__body", "message__sender_nickname")
    readonly_fields = ("message", "reporter", "reason", "created_at", "resolved_at", "resolved_by",
                       "in_context")  # fmt: skip
    actions = ["resolve", "delete_messages", "ban_authors"]

    def has_add_permission(self, request):
        return False  # members report from the room

    @admin.display(description="message")
    def reported_message(self, report):
        return report.message.body[:80] or report.message.gif_url

    @admin.display(description="room")
    def room(self, report):
        return report.message.room

    @admin.display(description="in context")
    def in_context(self, report):
        seq = report.message.seq
        around = selectors.message_history(
            room_id=report.message.room_id, after_seq=max(0, seq - 3), limit=5
        )
        return format_html(
            "<ol>{}</ol>",
            format_html_join(
                "",
                "<li{}>{}: {}</li>",
                (
                    (
                        format_html(' style="font-weight:bold"')
                        if m.pk == report.message_id
                        else "",
                        m.sender_nickname,
                        "(deleted)" if m.is_deleted else (m.body or m.gif_url),
                    )
                    for m in around
                ),
            ),
        )

    @admin.action(permissions=["change"], description="Resolve (nothing to do)")
    def resolve(self, request, queryset):
        resolved = moderation.reports_resolve(reports=queryset, user=request.user)
        self.message_user(request, f"Resolved {resolved} report(s).", messages.SUCCESS)

    @admin.action(permissions=["change"], description="Delete the reported messages and resolve")
    def delete_messages(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda r: changes.message_remove(message=r.message, user=request.user),
        )

    @admin.action(
        permissions=["change"], description="Ban the authors from their rooms and resolve"
    )
    def ban_authors(self, request, queryset):
        def ban(report):
            if report.message.sender_id:
                moderation.moderation_act(
                    room_id=report.message.room_id,
                    actor=request.user,
                    payload={"action": "ban", "user_id": report.message.sender_id,
                             "reason": report.reason},
                )  # fmt: skip

        self._each(request, queryset, ban)

    def _each(self, request, queryset, act):
        done = 0
        try:
            for report in queryset.filter(resolved_at__isnull=True).select_related("message"):
                act(report)
                moderation.reports_resolve(reports=MessageReport.objects.filter(pk=report.pk),
                                           user=request.user)  # fmt: skip
                done += 1
        except (KafkaUnavailable, ServiceError) as exc:
            self.message_user(request, f"Stopped after {done}: {exc}", messages.ERROR)
            return
        self.message_user(request, f"Done for {done} report(s).", messages.SUCCESS)


@admin.register(ModerationAction)
class ModerationActionAdmin(admin.ModelAdmin):
    """Every moderation action on the record (read only: actions go through the room's log)."""

    list_display = ("room", "seq", "kind", "actor_nickname", "actor_role", "target_nickname", "at")
    list_filter = ("kind", "actor_role")
    search_fields = ("room__name", "actor_nickname", "target_nickname", "reason")
    readonly_fields = [f.name for f in ModerationAction._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
