from django.conf import settings
from django.db import models
from django.db.models import Q


class Tag(models.Model):
    name = models.CharField(max_length=30, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ChatRoom(models.Model):
    name = models.CharField(max_length=50)
    description = models.CharField(max_length=500, blank=True)
    image_url = models.URLField(max_length=500, blank=True)
    # An uploaded image; shown instead of image_url when set.
    image = models.ForeignKey(
        "uploads.Upload", on_delete=models.SET_NULL, null=True, blank=True, related_name="rooms"
    )
    tags = models.ManyToManyField(Tag, related_name="rooms", blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="owned_rooms"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_activity_at = models.DateTimeField(auto_now_add=True, db_index=True)
    like_count = models.PositiveIntegerField(default=0, db_index=True)
    # Highest seq handed out; the relay bumps it while holding the row lock.
    last_seq = models.PositiveBigIntegerField(default=0)
    # Slow mode: a member may send once per this many seconds (0: off); set by moderation.
    slow_mode_seconds = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-last_activity_at", "-id"]

    def __str__(self):
        return self.name

    @property
    def image_src(self) -> str:
        """The image pages and the API show: the upload if set, else image_url, else ""."""
        return self.image.url if self.image_id else self.image_url


class RoomLike(models.Model):
    room = models.ForeignKey(ChatRoom, on_delete=models.CASCADE, related_name="likes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="one_like_per_room")]

    def __str__(self):
        return f"{self.user_id} likes {self.room_id}"


class RoomMember(models.Model):
    """A member who joined a room (opened it while logged in, sent in it or liked it), with
    how far they have read: unread counts are the messages after ``last_read_seq``."""

    room = models.ForeignKey(ChatRoom, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="room_memberships"
    )
    last_read_seq = models.PositiveBigIntegerField(default=0)
    joined_at = models.DateTimeField(auto_now_add=True)
    # Set by moderation actions as the relay applies them (chat.moderation).
    is_moderator = models.BooleanField(default=False)
    muted_until = models.DateTimeField(null=True, blank=True)
    banned_at = models.DateTimeField(null=True, blank=True)
    ban_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="one_membership")]

    def __str__(self):
        return f"{self.user_id} in {self.room_id} (read {self.last_read_seq})"


class ChatMessage(models.Model):
    """A chat message as stored by the relay, numbered per room in Kafka order, in its current
    state (its changes are MessageChange rows, numbered in the same sequence)."""

    class Kind(models.TextChoices):
        TALK = "TALK"

    event_id = models.UUIDField(unique=True)
    # No index of its own: the unique (room, seq) serves every lookup by room.
    room = models.ForeignKey(
        ChatRoom, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    seq = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.TALK)
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Snapshot at send time, so history reads the way the room saw it.
    sender_username = models.CharField(max_length=150)
    sender_nickname = models.CharField(max_length=30)
    sender_profile_path = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    gif_url = models.URLField(max_length=500, blank=True)
    # An uploaded GIF (chat.send gif_id); the frame's gif_url is then the upload's URL.
    gif_upload = models.ForeignKey(
        "uploads.Upload",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="chat_messages",
        db_index=False,  # indexed where set (Meta.indexes)
    )
    client_msg_id = models.CharField(max_length=64)
    sent_at = models.DateTimeField()
    stored_at = models.DateTimeField(auto_now_add=True)
    reply_to = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # indexed where set (Meta.indexes)
    )
    # Members of the room named with @nickname or @username, when stored: [{id, username,
    # nickname}]; pages link them, and each is notified.
    mentions = models.JSONField(default=list, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    is_deleted = models.BooleanField(default=False)
    deleted_by = models.CharField(max_length=8, blank=True)  # author, staff or owner
    kafka_partition = models.IntegerField(null=True)
    kafka_offset = models.BigIntegerField(null=True)

    class Meta:
        ordering = ["room", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="one_seq_per_room"),
            models.UniqueConstraint(
                fields=["room", "sender", "client_msg_id"],
                condition=Q(sender__isnull=False),
                name="one_client_msg_id_per_sender_and_room",
            ),
        ]
        # Most messages have neither: an index of every row would take a write per message
        # for nothing (each is one more page the relay's commit writes). A lookup by one, such
        # as on_delete's, still uses these (column = x implies it is not null).
        indexes = [
            models.Index(
                fields=["gif_upload"],
                condition=Q(gif_upload__isnull=False),
                name="chat_message_gif_upload",
            ),
            models.Index(
                fields=["reply_to"],
                condition=Q(reply_to__isnull=False),
                name="chat_message_reply_to",
            ),
        ]

    def __str__(self):
        return f"{self.room_id}#{self.seq}"


class MessageChange(models.Model):
    """A change to a stored message (edit, delete, reaction) with its own place in the room's
    log: ``seq`` comes from the same per-room sequence as messages, so catch-up replays both."""

    class Kind(models.TextChoices):
        EDITED = "edited"
        DELETED = "deleted"
        REACTED = "reacted"
        UNREACTED = "unreacted"

    change_id = models.UUIDField(unique=True)
    room = models.ForeignKey(ChatRoom, on_delete=models.CASCADE, related_name="changes")
    seq = models.PositiveBigIntegerField()
    message = models.ForeignKey(ChatMessage, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=9, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    actor_nickname = models.CharField(max_length=30, blank=True)
    client_msg_id = models.CharField(max_length=64, blank=True)
    body = models.TextField(blank=True)  # the new body of an edit
    emoji = models.CharField(max_length=32, blank=True)
    count = models.PositiveIntegerField(null=True)  # the emoji's count after a reaction change
    deleted_by = models.CharField(max_length=8, blank=True)
    at = models.DateTimeField()  # when the member made it
    stored_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["room", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="one_change_seq_per_room")
        ]

    def __str__(self):
        return f"{self.room_id}#{self.seq} {self.kind}"


class Reaction(models.Model):
    """One member's emoji on one message (the relay keeps these as it applies changes)."""

    message = models.ForeignKey(ChatMessage, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(max_length=32)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["message", "user", "emoji"], name="one_reaction_per_member_and_emoji"
            )
        ]

    def __str__(self):
        return f"{self.user_id} {self.emoji} {self.message_id}"


class ModerationAction(models.Model):
    """A moderation action with its place in the room's log (the same ``seq`` as messages and
    changes): on the record, and replayed to every socket on catch-up."""

    class Kind(models.TextChoices):
        MUTED = "muted"
        UNMUTED = "unmuted"
        KICKED = "kicked"
        BANNED = "banned"
        UNBANNED = "unbanned"
        SLOW_MODE = "slow_mode"
        MODERATOR_ADDED = "moderator_added"
        MODERATOR_REMOVED = "moderator_removed"

    action_id = models.UUIDField(unique=True)
    room = models.ForeignKey(ChatRoom, on_delete=models.CASCADE, related_name="moderation")
    seq = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=17, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    actor_nickname = models.CharField(max_length=30, blank=True)
    actor_role = models.CharField(max_length=9)  # owner, moderator or staff
    target = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    target_nickname = models.CharField(max_length=30, blank=True)
    until = models.DateTimeField(null=True, blank=True)  # muted
    seconds = models.PositiveSmallIntegerField(null=True)  # slow mode
    reason = models.CharField(max_length=200, blank=True)  # banned
    at = models.DateTimeField()

    class Meta:
        ordering = ["room", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="one_action_seq_per_room")
        ]

    def __str__(self):
        return f"{self.room_id}#{self.seq} {self.kind}"


class MessageReport(models.Model):
    """A member's report of a message, once per member and message, for moderators to act on."""

    message = models.ForeignKey(ChatMessage, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["message", "reporter"], name="one_report_per_member")
        ]

    def __str__(self):
        return f"report of {self.message_id} by {self.reporter_id}"
