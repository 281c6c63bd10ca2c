"""The daily schedule: open today's hakwon, close earlier ones with their awards, idempotently."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from comments.models import AwardRecord, TitleHakwon
from comments.selectors import hakwon_today
from outbox.models import OutboxEvent

from .conftest import make_comment, make_hakwon, make_user

pytestmark = pytest.mark.django_db


def tick() -> str:
    out = StringIO()
    call_command("hakwon_tick", stdout=out)
    return out.getvalue()


def test_tick_awards_the_top_three_with_ties_broken_by_the_earlier_comment():
    yesterday = make_hakwon(open_date=hakwon_today() - timedelta(days=1))
    authors = [make_user() for _ in range(5)]
    first_five = make_comment(hakwon=yesterday, author=authors[0], likes=5)
    early_three = make_comment(hakwon=yesterday, author=authors[1], likes=3)
    late_three = make_comment(hakwon=yesterday, author=authors[2], likes=3)
    make_comment(hakwon=yesterday, author=authors[3], likes=3)  # fourth: no award
    make_comment(hakwon=yesterday, author=authors[4], likes=0)
    reply = make_comment(hakwon=yesterday, parent=first_five, likes=50)  # replies don't compete

    output = tick()

    yesterday.refresh_from_db()
    assert yesterday.state == "DONE"
    awards = list(AwardRecord.objects.filter(hakwon=yesterday).order_by("rank"))
    assert [(a.rank, a.comment_id, a.like_count) for a in awards] == [
        (1, first_five.pk, 5),
        (2, early_three.pk, 3),
        (3, late_three.pk, 3),
    ]
    assert reply.pk not in {a.comment_id for a in awards}
    today = TitleHakwon.objects.get(open_date=hakwon_today())
    assert today.state == "PROCEED"
    assert "closed" in output and "opened" in output
    closed_event = OutboxEvent.objects.get(payload__type="hakwon.closed")
    assert [a["rank"] for a in closed_event.payload["awards"]] == [1, 2, 3]

    # A second run changes nothing.
    before = (
        list(AwardRecord.objects.values_list("pk", "rank", "comment_id")),
        list(TitleHakwon.objects.values_list("pk", "state")),
        OutboxEvent.objects.count(),
    )
    assert tick() == ""
    after = (
        list(AwardRecord.objects.values_list("pk", "rank", "comment_id")),
        list(TitleHakwon.objects.values_list("pk", "state")),
        OutboxEvent.objects.count(),
    )
    assert after == before


def test_no_likes_no_awards_and_an_existing_today_is_opened_not_duplicated():
    yesterday = make_hakwon(open_date=hakwon_today() - timedelta(days=1))
    make_comment(hakwon=yesterday, likes=0)
    today = make_hakwon(
        state="NOT_OPEN", open_date=hakwon_today(), image_url="https://img.test/x.png"
    )
    tick()
    today.refresh_from_db()
    assert today.state == "PROCEED" and today.image_url == "https://img.test/x.png"
    assert not AwardRecord.objects.exists()
    assert TitleHakwon.objects.count() == 2


def test_today_follows_the_contest_time_zone(settings):
    from datetime import UTC, datetime

    late_evening_utc = datetime(2026, 11, 24, 16, 30, tzinfo=UTC)  # 01:30 on the 25th in Seoul
    assert str(hakwon_today(late_evening_utc)) == "2026-11-25"
    settings.HAKWON_TIME_ZONE = "UTC"
    assert str(hakwon_today(late_evening_utc)) == "2026-11-24"
