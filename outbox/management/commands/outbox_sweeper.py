"""``manage.py outbox_sweeper``: publish committed outbox events to Kafka, in order."""

import logging
import threading

from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections
from redis import RedisError

from outbox.services import outbox_publish_pending, wake_channel
from zzalu.kafka import KafkaUnavailable
from zzalu.redis import Lease, get_redis
from zzalu.relay import Backoff, stop_on_signals

logger = logging.getLogger("zzalu.outbox")
BATCH = 200


class Command(BaseCommand):
    help = "Publish outbox events (written with each hakwon change) to Kafka after commit."

    def add_arguments(self, parser):
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between polls")

    def handle(self, *args, poll, **options):
        stop = stop_on_signals()
        lease, backoff, wakeups = Lease("outbox-sweeper"), Backoff(0.5, 10.0), None
        logger.info("outbox sweeper started")
        while not stop.is_set():
            try:
                wakeups = wakeups or _subscribe()
                if not lease.hold():
                    stop.wait(poll)  # another sweeper is active
                    continue
            except RedisError:
                wakeups = None  # without Redis, publish anyway: receivers drop duplicates
            try:
                close_old_connections()
                if outbox_publish_pending(limit=BATCH) == BATCH:
                    continue
                backoff.reset()
            except (KafkaUnavailable, DatabaseError) as exc:
                logger.warning("outbox not published (%s); retrying", exc)
                backoff.wait(stop)
                continue
            if not _wait_for_wakeup(wakeups, poll, stop):
                wakeups = None  # resubscribe on the next round
        try:
            lease.release()
        except RedisError:
            pass
        logger.info("outbox sweeper stopped")


def _subscribe():
    pubsub = get_redis().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(wake_channel())
    return pubsub


def _wait_for_wakeup(wakeups, poll: float, stop: threading.Event) -> bool:
    """Sleep until a commit wakes us or ``poll`` seconds pass; False if Redis failed."""
    if wakeups is None:
        stop.wait(poll)
        return False
    try:
        wakeups.get_message(timeout=poll)
        while wakeups.get_message(timeout=0):  # coalesce a burst of wake-ups
            pass
        return True
    except RedisError:
        stop.wait(poll)
        return False
