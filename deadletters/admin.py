"""Dead letters, read-only: what failed, where it sat in the log, and why. Replaying is
``manage.py dead_letters replay`` (after the fix is deployed), not a button."""

from django.contrib import admin

from .models import DeadLetter

PREVIEW_BYTES = 300


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = (
        "dead_at",
        "topic",
        "partition",
        "offset",
        "error_class",
        "attempts",
        "replayed_at",
    )
    list_filter = ("topic", "error_class", ("replayed_at", admin.EmptyFieldListFilter))
    search_fields = ("error",)
    fields = (
        "topic", "partition", "offset", "key_preview", "value_preview", "error_class", "error",
        "attempts", "dead_at", "replayed_at",
    )  # fmt: skip
    readonly_fields = fields

    @admin.display(description="key")
    def key_preview(self, letter):
        return _preview(letter.key)

    @admin.display(description="value")
    def value_preview(self, letter):
        return _preview(letter.value)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _preview(raw) -> str:
    if raw is None:
        return "—"
    data = bytes(raw)
    text = data[:PREVIEW_BYTES].decode("utf-8", errors="backslashreplace")
    text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    more = f" … ({len(data):,} bytes)" if len(data) > PREVIEW_BYTES else ""
    return text + more
