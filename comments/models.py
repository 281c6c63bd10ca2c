from django.conf import settings
from django.db import models
from django.db.models import Q
from django.templatetags.static import static


class TitleHakwon(models.Model):
    """One image per day; members caption it in comments."""

    class State(models.TextChoices):
        NOT_OPEN = "NOT_OPEN", "Not open yet"
        PROCEED = "PROCEED", "Open"
        DONE = "DONE", "Closed"

    image_url = models.URLField(max_length=500, blank=True)
    # The uploaded contest image (the admin uploads it); shown instead of image_url when set.
    image = models.ForeignKey(
        "uploads.Upload", on_delete=models.SET_NULL, null=True, blank=True, related_name="hakwons"
    )
    open_date = models.DateField(unique=True)
    state = models.CharField(
        max_length=8, choices=State.choices, default=State.NOT_OPEN, db_index=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-open_date"]
        verbose_name = "title-hakwon"

    def __str__(self):
        return f"제목학원 {self.open_date}"

    @property
    def is_open(self) -> bool:
        return self.state == self.State.PROCEED

    @property
    def image_src(self) -> str:
        """The image pages and the API show: the upload if set, else image_url, else the
        image the project ships (static/img/hakwon-default.gif: no network needed)."""
        if self.image_id:
            return self.image.url
        return self.image_url or static("img/hakwon-default.gif")


class Comment(models.Model):
    """A caption (top-level) or a reply to one (``parent`` set; replies do not nest)."""

    hakwon = models.ForeignKey(TitleHakwon, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments"
    )
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="replies"
    )
    content = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    is_edited = models.BooleanField(default=False)
    # A deleted comment that has replies stays as a placeholder so the thread still reads.
    is_deleted = models.BooleanField(default=False)
    like_count = models.PositiveIntegerField(default=0)
    reply_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["hakwon", "parent", "-created_at"], name="comment_latest"),
            models.Index(fields=["hakwon", "parent", "-like_count"], name="comment_popular"),
        ]

    def __str__(self):
        return self.content[:40]


class CommentLike(models.Model):
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="likes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["comment", "user"], name="one_like_per_comment")
        ]

    def __str__(self):
        return f"{self.user_id} likes comment {self.comment_id}"


class AwardRecord(models.Model):
    hakwon = models.ForeignKey(TitleHakwon, on_delete=models.CASCADE, related_name="awards")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="awards"
    )
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="awards")
    rank = models.PositiveSmallIntegerField()
    like_count = models.PositiveIntegerField(help_text="Likes when the hakwon closed.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["hakwon", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["hakwon", "rank"], name="one_award_per_rank"),
            models.CheckConstraint(condition=Q(rank__gte=1, rank__lte=3), name="rank_1_to_3"),
        ]

    def __str__(self):
        return f"{self.hakwon} #{self.rank}"
