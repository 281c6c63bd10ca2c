"""``manage.py outbox_sweeper``: publish committed outbox events to Kafka, in order."""

import threading

from redis import RedisError

from outbox.services import outbox_publish_pending, wake_channel
from zzalu.redis import Lease, get_redis
from zzalu.worker import Worker, WorkerCommand

BATCH = 200


class Sweeper(Worker):
    """One round publishes up to a batch; between rounds it sleeps until a commit wakes it
    (Redis pub/sub) or ``poll`` seconds pass. One sweeper at a time holds the lease."""

    name = "sweeper"
    backoff_first = 0.5

    def __init__(self, *, poll: float, stop: threading.Event):
        self.idle, self.stop = poll, stop
        self.lease, self.wakeups = Lease("outbox-sweeper"), None

    def step(self) -> int:
        try:
            self.wakeups = self.wakeups or _subscribe()
            if not self.lease.hold():
                return 0  # another sweeper is active
        except RedisError:
            self.wakeups = None  # without Redis, publish anyway: receivers drop duplicates
        published = outbox_publish_pending(limit=BATCH)  # KafkaUnavailable: backoff, retry
        return published if published == BATCH else 0  # a full batch: go again at once

    def wait_idle(self, stop: threading.Event) -> None:
        if self.wakeups is None:
            stop.wait(self.idle)
            return
        try:
            self.wakeups.get_message(timeout=self.idle)
            while self.wakeups.get_message(timeout=0):  # coalesce a burst of wake-ups
                pass
        except RedisError:
            self.wakeups = None  # resubscribe on the next round
            stop.wait(self.idle)

    def close(self) -> None:
        try:
            self.lease.release()
        except RedisError:
            pass


def _subscribe():
    pubsub = get_redis().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(wake_channel())
    return pubsub


class Command(WorkerCommand):
    help = "Publish outbox events (written with each hakwon change) to Kafka after commit."
    metrics_port_setting = "SWEEPER_METRICS_PORT"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between polls")

    def make_worker(self, stop, *, poll, **options):
        return Sweeper(poll=poll, stop=stop)
