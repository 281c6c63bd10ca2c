"""An outbox row the broker refuses for good dies after OUTBOX_MAX_ATTEMPTS; the rows behind it
go on. Real broker: the refusal is a record larger than any the broker takes."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from kafka.admin import NewTopic

from outbox.models import OutboxEvent
from outbox.selectors import outbox_counts
from outbox.services import outbox_publish_pending
from zzalu.kafka import make_admin

pytestmark = pytest.mark.django_db


@pytest.fixture
def topic(real_services, settings):
    """A topic of this test's own: these rows test the outbox, not the event contract."""
    name = f"{settings.KAFKA_TOPIC_PREFIX}outbox-test"
    admin = make_admin()
    try:
        admin.create_topics([NewTopic(name=name, num_partitions=1, replication_factor=1)])
        yield name
        admin.delete_topics([name])
    finally:
        admin.close()


def row(topic: str, payload_size: int = 10) -> OutboxEvent:
    return OutboxEvent.objects.create(
        topic=topic,
        key="1",
        payload={"v": 1, "type": "comment.created", "hakwon_id": 1, "pad": "x" * payload_size},
    )


def test_a_refused_row_dies_after_the_limit_and_the_next_rows_are_published(
    topic, settings, capsys
):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    too_large = row(topic, payload_size=2 * settings.KAFKA_MAX_RECORD_BYTES)
    behind = [row(topic), row(topic)]

    assert outbox_publish_pending() == 0  # refused once: it keeps its place for now
    too_large.refresh_from_db()
    assert too_large.attempts == 1 and too_large.dead_at is None and too_large.last_error
    assert outbox_counts() == {"pending": 3, "dead": 0}

    assert outbox_publish_pending() == 1  # refused twice: dead, and nothing was published yet
    assert outbox_publish_pending() == 2  # the rows behind it go on
    too_large.refresh_from_db()
    assert too_large.dead_at is not None and too_large.published_at is None
    assert all(OutboxEvent.objects.get(pk=r.pk).published_at for r in behind)
    assert outbox_counts() == {"pending": 0, "dead": 1}

    call_command("dead_letters", "list")
    assert f"outbox #{too_large.pk}" in capsys.readouterr().out
    call_command("dead_letters", "replay")  # after a fix: back in the queue, attempts afresh
    too_large.refresh_from_db()
    assert too_large.dead_at is None and too_large.attempts == 0
    call_command("dead_letters", "purge")  # nothing dead now: nothing purged
    assert OutboxEvent.objects.filter(pk=too_large.pk).exists()
