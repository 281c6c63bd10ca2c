"""Row locks of the title-hakwon writes on PostgreSQL (issue 11, item 8).

A comment is locked alone (``select_for_update(of=("self",))``): a like in flight does not
hold its author's row (their login, their own likes) or its hakwon's row (every other like of
the day). The hakwon is share-locked instead, so closing it still waits for likes in flight
and no like lands after the awards. SQLite has no row locks (a writer holds the database).
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from comments.services import HakwonClosed, comment_like, hakwon_close

from .conftest import make_comment, make_hakwon, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class InFlight:
    """Runs ``write`` in another thread (its own connection) and keeps its transaction open
    until the block ends."""

    def __init__(self, write):
        self.write = write
        self.ready, self.done = threading.Event(), threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run)

    def _run(self):
        try:
            with transaction.atomic():
                self.write()
                self.ready.set()
                self.done.wait(30)
        except BaseException as exc:  # reported by the test thread
            self.error = exc
        finally:
            self.ready.set()
            connection.close()

    def __enter__(self) -> InFlight:
        self.thread.start()
        assert self.ready.wait(10)
        assert self.error is None, self.error
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join(30)
        assert self.error is None, self.error


def without_waiting(write):
    """``write`` in a transaction that fails if it waits for a row lock more than 2 s."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '2s'")
        return write()


def test_a_like_in_flight_does_not_hold_the_comments_author():
    author, fan = make_user(), make_user()
    hakwon = make_hakwon()
    comment = make_comment(hakwon=hakwon, author=author)
    others = make_comment(hakwon=hakwon)
    with InFlight(lambda: comment_like(comment=comment, user=fan)):
        # The author logs in (last_login) and likes someone else's caption meanwhile.
        without_waiting(lambda: User.objects.filter(pk=author.pk).update(last_login=timezone.now()))
        assert without_waiting(lambda: comment_like(comment=others, user=author)) == 1


def test_likes_of_one_hakwon_do_not_wait_for_each_other():
    hakwon = make_hakwon()
    first, second = make_comment(hakwon=hakwon), make_comment(hakwon=hakwon)
    with InFlight(lambda: comment_like(comment=first, user=make_user())):
        assert without_waiting(lambda: comment_like(comment=second, user=make_user())) == 1


def test_closing_waits_for_likes_in_flight_and_no_like_lands_after():
    hakwon = make_hakwon()
    liked, also, later = (make_comment(hakwon=hakwon) for _ in range(3))
    awards: list = []

    def close():
        try:
            awards.extend(hakwon_close(hakwon=hakwon))
        finally:
            connection.close()

    closer = threading.Thread(target=close)
    with InFlight(lambda: comment_like(comment=liked, user=make_user())):
        closer.start()
        closer.join(1.5)
        assert closer.is_alive(), "the close did not wait for the like in flight"
        # Likes share the hakwon: one more goes through while the close waits, and counts.
        assert without_waiting(lambda: comment_like(comment=also, user=make_user())) == 1
    closer.join(10)
    assert not closer.is_alive()
    assert [(a.comment_id, a.like_count) for a in awards] == [(liked.pk, 1), (also.pk, 1)]
    with pytest.raises(HakwonClosed):
        comment_like(comment=later, user=make_user())
