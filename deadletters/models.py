from django.db import models


class DeadLetter(models.Model):
    """A record the relay could never handle, as it was written to ``<topic>.dlq``.

    The dead-letter topic is the durable copy; this row is its index, for the admin and for
    ``manage.py dead_letters``. Key and value are kept as the bytes that were consumed.
    """

    topic = models.CharField(max_length=249)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    key = models.BinaryField(null=True)
    value = models.BinaryField(null=True)
    error_class = models.CharField(max_length=200)
    error = models.TextField()
    attempts = models.PositiveIntegerField()
    dead_at = models.DateTimeField()
    replayed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-dead_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["topic", "partition", "offset"], name="dead_letter_once"
            )
        ]

    def __str__(self):
        return f"{self.topic}/{self.partition}@{self.offset}"
