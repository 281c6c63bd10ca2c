"""The relay's poll gathers a batch: while records come at RELAY_BATCH_LINGER_RATE a second or
more, it waits as long as RELAY_BATCH_TARGET_RECORDS take to come at that rate, never longer
than RELAY_BATCH_LINGER_MS; slower, or after a quiet spell, a record goes at once.

A fake librdkafka consumer stands in for the broker in the first tests (records arrive at set
times; ``consume`` waits as librdkafka's does: until it has what was asked for, or the timeout
passes); the last test checks the same with the real broker.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid

import pytest
from confluent_kafka import Consumer

from zzalu import kafka
from zzalu.kafka import RelayConsumer, produce_sync, topic_name

from .procs import ROOT, child_env


class Message:
    def __init__(self, offset: int):
        self._offset = offset

    def error(self):
        return None

    def topic(self):
        return "chat.events"

    def partition(self):
        return 0

    def offset(self):
        return self._offset

    def key(self):
        return b"1"

    def value(self):
        return b"{}"


class ArrivingRecords:
    """librdkafka as the relay sees it: records arrive ``arrivals`` seconds after the first
    poll; ``consume(n, timeout)`` returns once it has n of them or the timeout has passed."""

    arrivals: list[float] = []

    def __init__(self, config):
        self.start: float | None = None
        self.taken = 0

    def subscribe(self, topics, on_assign=None, on_revoke=None):
        pass

    def _arrived(self) -> int:
        elapsed = time.monotonic() - self.start
        return sum(1 for at in self.arrivals if at <= elapsed)

    def _take(self, n: int) -> list[Message]:
        count = min(n, self._arrived() - self.taken)
        taken = [Message(self.taken + i) for i in range(count)]
        self.taken += count
        return taken

    def poll(self, timeout: float):
        if self.start is None:
            self.start = time.monotonic()
        deadline = time.monotonic() + timeout
        while not (taken := self._take(1)) and time.monotonic() < deadline:
            time.sleep(0.001)
        return taken[0] if taken else None

    def consume(self, num_messages: int, timeout: float) -> list[Message]:
        deadline = time.monotonic() + timeout
        while self._arrived() - self.taken < num_messages and time.monotonic() < deadline:
            time.sleep(0.001)
        return self._take(num_messages)


@pytest.fixture
def arriving(monkeypatch):
    monkeypatch.setattr(kafka, "Consumer", ArrivingRecords)

    def consumer(
        arrivals: list[float], linger_ms: int, settings, linger_rate: float = 0.5,
        target: int = 10,
    ) -> RelayConsumer:  # fmt: skip
        settings.RELAY_BATCH_LINGER_MS = linger_ms
        settings.RELAY_BATCH_LINGER_RATE = linger_rate  # half a record a second: one is busy
        settings.RELAY_BATCH_TARGET_RECORDS = target
        ArrivingRecords.arrivals = arrivals
        return RelayConsumer(["chat.events"])

    return consumer


def offsets(polled) -> list[int]:
    return [record.offset for records in polled.values() for record in records]


def timed_poll(consumer, **kwargs):
    started = time.monotonic()
    polled = consumer.poll(**kwargs)
    return polled, time.monotonic() - started


def poll_all(consumer, records: int, **kwargs) -> tuple[list[int], list[float]]:
    """Poll until ``records`` were taken: each batch's size and each poll's seconds."""
    sizes, took = [], []
    while sum(sizes) < records:
        polled, seconds = timed_poll(consumer, timeout_ms=250, **kwargs)
        sizes.append(len(offsets(polled)))
        took.append(seconds)
    return sizes, took


def median(values) -> float:
    return sorted(values)[len(values) // 2]


def test_records_arriving_within_the_linger_join_the_batch(arriving, settings):
    consumer = arriving([0.0, 0.02, 0.05, 0.08, 0.6], linger_ms=150, settings=settings)
    assert offsets(consumer.poll(timeout_ms=250)) == [0]  # the first after a quiet spell
    polled, took = timed_poll(consumer, timeout_ms=250)
    assert offsets(polled) == [1, 2, 3]
    assert took < 0.45  # the linger, not the next record's arrival


def test_the_poll_never_waits_longer_than_the_linger(arriving, settings):
    consumer = arriving([0.0, 0.01, 1.0], linger_ms=50, settings=settings)
    consumer.poll(timeout_ms=250)
    polled, took = timed_poll(consumer, timeout_ms=250)
    assert offsets(polled) == [1]
    assert 0.05 <= took < 0.35


def test_a_record_after_a_quiet_spell_goes_at_once(arriving, settings):
    consumer = arriving([0.0, 1.0, 1.05], linger_ms=100, settings=settings)
    consumer.poll(timeout_ms=250)
    polled, took = timed_poll(consumer, timeout_ms=1500)
    assert offsets(polled) == [1]  # a second after the last record: not half a record a second
    assert took < 1.04
    assert offsets(consumer.poll(timeout_ms=250)) == [2]


def test_records_slower_than_the_linger_rate_go_one_by_one(arriving, settings):
    consumer = arriving([i * 0.05 for i in range(12)], linger_ms=200, settings=settings,
                        linger_rate=50)  # fmt: skip
    for expected in range(12):  # 20 a second: none waits the 200 ms
        polled, took = timed_poll(consumer, timeout_ms=250)
        assert offsets(polled) == [expected]
        assert took < 0.15


def test_records_at_the_linger_rate_are_gathered(arriving, settings):
    consumer = arriving([i * 0.005 for i in range(300)], linger_ms=50, settings=settings,
                        linger_rate=50)  # fmt: skip
    sizes, took = poll_all(consumer, 300)
    assert sizes[0] == 1  # nothing counted yet
    assert max(sizes[-5:]) >= 5, sizes  # 200 a second: ~45 ms, for ten (the target)
    assert max(took) < 0.3


def test_the_faster_records_come_the_shorter_the_linger(arriving, settings):
    # 400 a second, a target of 8 records: a batch waits ~18 ms for them, not the 500 ms
    # linger (which would gather ~200).
    consumer = arriving([i * 0.0025 for i in range(800)], linger_ms=500, settings=settings,
                        linger_rate=50, target=8)  # fmt: skip
    sizes, took = poll_all(consumer, 800)
    assert 5 <= median(sizes[len(sizes) // 2 : -1]) <= 16, sizes  # the steady batch: about 8
    assert median(took) < 0.1, took  # the median poll: ~20 ms
    assert max(took) < 0.45, took  # none the 500 ms linger


def test_the_linger_caps_the_wait_for_the_target(arriving, settings):
    # 100 a second, a target of 50 records: each batch waits the 60 ms linger, no longer.
    consumer = arriving([i * 0.01 for i in range(150)], linger_ms=60, settings=settings,
                        linger_rate=50, target=50)  # fmt: skip
    sizes, took = poll_all(consumer, 150)
    assert median(sizes[2:-1]) <= 12, sizes  # ~7: what 60 ms gathers at 100 a second
    assert median(took) < 0.12, took


def test_a_batch_waits_only_for_what_it_can_hold(arriving, settings):
    # 400 a second, a target of 50 but room for 3: a batch waits ~5 ms for two more, not the
    # ~120 ms 50 would take.
    consumer = arriving([i * 0.0025 for i in range(400)], linger_ms=500, settings=settings,
                        linger_rate=50, target=50)  # fmt: skip
    _, took = poll_all(consumer, 400, max_records=3)
    assert median(took[len(took) // 2 :]) < 0.05, took


def test_with_a_rate_threshold_of_zero_every_batch_lingers(arriving, settings):
    consumer = arriving([0.0, 0.02, 0.04, 0.5], linger_ms=80, settings=settings, linger_rate=0)
    polled, took = timed_poll(consumer, timeout_ms=250)  # nothing counted yet: the whole linger
    assert offsets(polled) == [0, 1, 2]
    assert took < 0.4


def test_a_full_batch_goes_at_once(arriving, settings):
    consumer = arriving([0.0] * 10, linger_ms=2000, settings=settings)
    assert offsets(consumer.poll(timeout_ms=250, max_records=3)) == [0, 1, 2]
    polled, took = timed_poll(consumer, timeout_ms=250, max_records=5)
    assert offsets(polled) == [3, 4, 5, 6, 7]
    assert took < 1.0  # not the 2 s linger


def test_without_linger_a_batch_is_what_is_already_here(arriving, settings):
    consumer = arriving([0.0, 0.0, 0.01, 0.3], linger_ms=0, settings=settings)
    assert offsets(consumer.poll(timeout_ms=250)) == [0, 1]
    time.sleep(0.015)
    polled, took = timed_poll(consumer, timeout_ms=250)
    assert offsets(polled) == [2]
    assert took < 0.05


def django_starting(**env: str) -> subprocess.CompletedProcess:
    """Django set up in a fresh interpreter with ``env`` on top of the tests' own."""
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RELAY_BATCH_LINGER_MS", "-25"),
        ("RELAY_BATCH_LINGER_RATE", "-1"),
        ("RELAY_BATCH_TARGET_RECORDS", "-1"),
    ],
)
def test_a_negative_linger_or_rate_is_refused_at_start(name, value):
    # A negative linger reached time.sleep() on every busy round: the relay retried forever.
    result = django_starting(**{name: value})
    assert result.returncode != 0
    assert f"{name} must be a number of at least 0" in result.stderr, result.stderr[-2000:]


def test_a_linger_of_more_than_five_seconds_is_refused_at_start():
    result = django_starting(RELAY_BATCH_LINGER_MS="3600000")  # every busy batch held an hour
    assert result.returncode != 0
    assert "RELAY_BATCH_LINGER_MS must be at most 5000" in result.stderr, result.stderr[-2000:]


def test_a_zero_linger_rate_and_target_are_accepted():
    result = django_starting(
        RELAY_BATCH_LINGER_MS="0", RELAY_BATCH_LINGER_RATE="0", RELAY_BATCH_TARGET_RECORDS="0"
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_linger_gathers_records_from_the_real_broker(real_services, settings):
    """The linger gathers what the broker sends meanwhile (librdkafka fetches in the
    background, and consume(n, 0) takes what it has)."""
    settings.RELAY_BATCH_LINGER_MS = 400
    settings.RELAY_BATCH_LINGER_RATE = 0.5  # one record a second is busy enough here
    settings.RELAY_BATCH_TARGET_RECORDS = 1000  # the 400 ms cap, whatever else the topic carries
    topic = topic_name("chat")
    consumer = RelayConsumer(
        [topic], **{"group.id": f"test-linger-{uuid.uuid4().hex}", "auto.offset.reset": "latest"}
    )
    key = f"linger-{uuid.uuid4().hex}"

    def mine(polled) -> list[bytes]:
        return [r.value for records in polled.values() for r in records if r.key == key.encode()]

    try:
        deadline = time.monotonic() + 30
        while not consumer.assigned() and time.monotonic() < deadline:
            consumer.poll(timeout_ms=100)
        assert consumer.assigned()
        consumer.poll(timeout_ms=500)  # positions settle at the end of the log
        produce_sync(topic, key, b'{"n": 0}')
        while not mine(consumer.poll(timeout_ms=100)):  # a batch: records are coming now
            assert time.monotonic() < deadline

        def send_two():
            produce_sync(topic, key, b'{"n": 1}')
            time.sleep(0.1)
            produce_sync(topic, key, b'{"n": 2}')

        sender = threading.Thread(target=send_two)
        sender.start()
        polled, took = timed_poll(consumer, timeout_ms=5000)
        sender.join()
        assert mine(polled) == [b'{"n": 1}', b'{"n": 2}']
        assert took < 5.0
    finally:
        consumer.close()


def test_consume_without_a_timeout_takes_what_was_fetched(real_services, settings):
    """The other half of librdkafka's contract the linger relies on: consume(n, 0) takes the
    records fetched meanwhile, at once, and consume(n, t) with enough of them does not wait
    out its timeout."""
    topic = topic_name("chat")
    key = f"linger-{uuid.uuid4().hex}"
    for _ in range(3):
        produce_sync(topic, key, b"{}")
    consumer = Consumer(
        {
            "bootstrap.servers": ",".join(settings.KAFKA_BOOTSTRAP_SERVERS),
            "group.id": f"test-linger-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 30
        while consumer.poll(0.1) is None and time.monotonic() < deadline:
            pass
        time.sleep(0.5)  # the topic's records fetched by now
        started = time.monotonic()
        assert len(consumer.consume(1, 0)) == 1
        assert len(consumer.consume(1, 10)) == 1
        assert time.monotonic() - started < 5
    finally:
        consumer.close()
