"""Kafka clients: the process's one idempotent producer, the relay's consumer, topic admin.

The hot paths — every web server's producer and every relay's consumer — use librdkafka
(confluent-kafka): its network I/O runs in C threads, which cost about a third less CPU per
message than kafka-python's Python threads (docs/decisions/0003, docs/performance.md). Topic
admin and readiness checks use kafka-python's admin client.

A delivery report arrives on the producer's poll thread; ``produce`` hands it to the caller's
event loop, so a socket waiting for the broker never blocks the loop (nor the other sockets).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import os
import socket
import threading
import time
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from django.conf import settings
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

logger = logging.getLogger(__name__)


class KafkaUnavailable(Exception):
    """The broker did not acknowledge in time (or could not be reached at all): try again."""


class KafkaRejected(Exception):
    """The broker (or the client) refused this record itself for good, e.g. it is too large:
    retrying the same record cannot succeed. Any other failure is KafkaUnavailable."""


# Errors about the record itself. Anything else (broker away, authorization, a fatal producer
# state) is the deployment's problem, not the record's: retried, never blamed on a record.
_RECORD_ERRORS = {
    KafkaError.MSG_SIZE_TOO_LARGE,  # also what the client says before sending
    KafkaError.RECORD_LIST_TOO_LARGE,
    KafkaError.INVALID_MSG_SIZE,
    KafkaError.INVALID_RECORD,
}


def _failure(error: KafkaError) -> Exception:
    """A delivery error as the exception callers handle: rejected (this record, never) or
    unavailable (try again)."""
    if error.code() in _RECORD_ERRORS:
        return KafkaRejected(str(error))
    return KafkaUnavailable(str(error))


@dataclass(frozen=True, slots=True)
class Record:
    """A consumed (or acknowledged) record: where it sits in the log and what it holds."""

    topic: str
    partition: int
    offset: int
    key: bytes | None = None
    value: bytes | None = None


def topic_name(kind: str) -> str:
    """``chat`` or ``hakwon`` -> the configured topic name (with the deployment's prefix)."""
    return settings.KAFKA_TOPICS[kind]["name"]


def dead_letter_topic(topic: str) -> str:
    """Where the relay puts the records of ``topic`` that it can never handle."""
    return f"{topic}.dlq"


def _client_id(role: str) -> str:
    return f"zzalu-{role}-{socket.gethostname()}-{os.getpid()}"


def _servers() -> str:
    return ",".join(settings.KAFKA_BOOTSTRAP_SERVERS)


# --- producer --------------------------------------------------------------------------------

_producer: Producer | None = None
_producer_lock = threading.Lock()
_producer_closed = threading.Event()


def _producer_config() -> dict:
    ack_ms = int(settings.KAFKA_ACK_TIMEOUT * 1000)
    return {
        "bootstrap.servers": _servers(),
        "client.id": _client_id("producer"),
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": settings.KAFKA_LINGER_MS,
        # Java's and kafka-python's partitioner: a room keeps its partition whichever client
        # wrote it.
        "partitioner": "murmur2_random",
        # Bounded so a record that could not be stored fails instead of lingering for minutes;
        # the sender was told `unavailable` by then and retries with the same id.
        "message.timeout.ms": ack_ms + 1000,
        "request.timeout.ms": ack_ms,
        "reconnect.backoff.max.ms": 1000,
        "socket.nagle.disable": True,  # small records: no 40 ms Nagle / delayed-ACK stalls
        # As large as the broker takes (its default message.max.bytes), so a dead letter can
        # carry any record the broker accepted from someone else.
        "message.max.bytes": settings.KAFKA_MAX_RECORD_BYTES,
        "log_level": 3,  # errors only: a stopped broker is reported by the callers
    }


def get_producer() -> Producer:
    """The process-wide producer, created on first use; it reconnects by itself."""
    global _producer
    if _producer is None:
        with _producer_lock:
            if _producer is None:
                producer = Producer(_producer_config())
                threading.Thread(
                    target=_serve_delivery_reports, args=(producer,), daemon=True,
                    name="kafka-delivery-reports",
                ).start()  # fmt: skip
                _producer = producer
    return _producer


def _serve_delivery_reports(producer: Producer) -> None:
    """Delivery callbacks run here, on this thread, while the producer is in use."""
    while not _producer_closed.is_set():
        producer.poll(0.1)


def close_producer(timeout: float = 5.0) -> None:
    global _producer
    with _producer_lock:
        if _producer is not None:
            _producer.flush(timeout)
            _producer_closed.set()
            _producer = None


Headers = list[tuple[str, bytes]]


def _enqueue(
    topic: str, key: str | bytes | None, value: bytes, on_delivery, headers: Headers | None
) -> None:
    if isinstance(key, str):
        key = key.encode()
    try:
        get_producer().produce(
            topic, value=value, key=key, headers=headers, on_delivery=on_delivery
        )
    except BufferError as exc:  # the local queue is full: the broker has been away a while
        raise KafkaUnavailable("the producer's queue is full") from exc
    except KafkaException as exc:
        raise _failure(exc.args[0]) from exc


def _delivered(message) -> Record:
    return Record(message.topic(), message.partition(), message.offset())


def produce_nowait(
    topic: str, key: str | bytes | None, value: bytes, headers: Headers | None = None
) -> concurrent.futures.Future:
    """Enqueue a record; the returned future resolves to its Record once Kafka has it, or
    fails with KafkaUnavailable (try again) or KafkaRejected (never)."""
    future: concurrent.futures.Future = concurrent.futures.Future()

    def on_delivery(error, message):
        if error is None:
            future.set_result(_delivered(message))
        else:
            future.set_exception(_failure(error))

    _enqueue(topic, key, value, on_delivery, headers)
    return future


def produce_sync(
    topic: str,
    key: str | bytes | None,
    value: bytes,
    timeout: float | None = None,
    headers: Headers | None = None,
) -> Record:
    """Produce and wait for the broker's acknowledgement; raises KafkaUnavailable (or
    KafkaRejected for a record the broker will never take)."""
    timeout = settings.KAFKA_ACK_TIMEOUT if timeout is None else timeout
    try:
        return produce_nowait(topic, key, value, headers).result(timeout)
    except concurrent.futures.TimeoutError as exc:
        raise KafkaUnavailable(f"no acknowledgement within {timeout:.1f}s") from exc


async def produce(topic: str, key: str, value: bytes) -> asyncio.Future:
    """Enqueue a record from async code; returns an awaitable for its acknowledgement.

    Enqueueing happens before this returns, so records enqueued one after another keep their
    order; awaiting the result waits for ``acks=all`` (or raises KafkaUnavailable).
    """
    loop = asyncio.get_running_loop()
    acked = loop.create_future()

    def resolve(error, message) -> None:
        if acked.done():
            return
        if error is None:
            acked.set_result(_delivered(message))
        else:
            acked.set_exception(_failure(error))

    _enqueue(topic, key, value, lambda e, m: loop.call_soon_threadsafe(resolve, e, m), None)
    return acked


# --- the relay's consumer ---------------------------------------------------------------------


# How fast the relay forgets the records it polled, in seconds: its "recent" count is about the
# records of the last RATE_WINDOW seconds. Short, so that a burst (a crowd joining a room) stops
# counting soon after it ends: records coming slowly after it must not wait a linger.
RATE_WINDOW = 0.25


class RelayConsumer:
    """A consumer-group member with manual commits, returning batches grouped by partition."""

    def __init__(self, topics: list[str], **overrides):
        self._consumer = Consumer(
            {
                "bootstrap.servers": _servers(),
                "client.id": _client_id("relay"),
                "group.id": settings.KAFKA_RELAY_GROUP,
                # Offsets are committed by the relay, explicitly, after store and announce. Left
                # to itself, an asynchronous commit sends whatever was polled by the time it
                # leaves, which can include the next, unhandled batch: lost on a crash.
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                # A relay that dies is replaced within ~10 s instead of the 45 s default.
                "session.timeout.ms": 10000,
                "heartbeat.interval.ms": 3000,
                # How long the broker holds a fetch that found nothing. 500 (librdkafka's
                # default) saved the idle relay ~10 ms of CPU a second, but a PostgreSQL CI run
                # with it failed a test whose presence frame (through the relay) came late after
                # the broker's restart; kept at 20 until that is understood (docs/decisions/0017).
                "fetch.wait.max.ms": 20,
                "socket.nagle.disable": True,
                "log_level": 3,
                **overrides,
            }
        )
        # Kept from the rebalance callbacks, so lag() needs no call into the group coordinator
        # (it is read from the metrics thread too).
        self._assigned: list[TopicPartition] = []
        self._consumer.subscribe(topics, on_assign=self._on_assign, on_revoke=self._on_revoke)
        # Next offset per partition: polled (being handled), and handled but not yet committed.
        self._polled: dict[tuple[str, int], int] = {}
        self._handled: dict[tuple[str, int], int] = {}
        self._commit_every = settings.KAFKA_RELAY_COMMIT_INTERVAL_MS / 1000
        self._committed_at = 0.0
        self._linger = settings.RELAY_BATCH_LINGER_MS / 1000
        self._linger_from = settings.RELAY_BATCH_LINGER_RATE
        self._gather = settings.RELAY_BATCH_TARGET_RECORDS
        self._recent, self._recent_at = 0.0, time.monotonic()  # records polled, decaying

    def poll(
        self, timeout_ms: int = 250, max_records: int = 500
    ) -> dict[tuple[str, int], list[Record]]:
        """Wait up to ``timeout_ms`` for a record, then take what else is here, up to
        ``max_records``.

        While records come at about RELAY_BATCH_LINGER_RATE a second or more, the batch waits
        for more: as long as about RELAY_BATCH_TARGET_RECORDS take to come at the current
        rate, RELAY_BATCH_LINGER_MS at most. Each batch costs its statements, commit and round
        trips whatever it holds, so it pays them once for several records; a record waits the
        linger at most, and the faster records come the shorter it is. Slower, a record goes
        at once: there, waiting would gather little and only delay it. The linger is a sleep,
        not a wait on librdkafka's queue, which wakes the waiting thread for every record that
        arrives (~15 % of the relay's CPU at 400 a second, in the kernel).
        """
        first = self._consumer.poll(timeout_ms / 1000)
        if first is None:
            return {}
        wanted = max_records - 1
        rest = self._consumer.consume(wanted, 0) if wanted else []
        if len(rest) < wanted and (linger := self._linger_for(1 + len(rest), max_records)):
            time.sleep(linger)
            rest += self._consumer.consume(wanted - len(rest), 0)
        self._count(1 + len(rest))
        batches: dict[tuple[str, int], list[Record]] = {}
        for message in [first, *rest]:
            if message.error():
                if message.error().code() != KafkaError._PARTITION_EOF:
                    logger.warning("consumer: %s", message.error())
                continue
            record = Record(
                message.topic(),
                message.partition(),
                message.offset(),
                message.key(),
                message.value(),
            )
            batches.setdefault((record.topic, record.partition), []).append(record)
            self._polled[(record.topic, record.partition)] = record.offset + 1
        return batches

    def _linger_for(self, have: int, room: int) -> float:
        """Seconds to wait for more records when a batch holds ``have`` of at most ``room``: 0
        below RELAY_BATCH_LINGER_RATE (or with no linger set), else the time the rest of
        RELAY_BATCH_TARGET_RECORDS (or of ``room``) takes at the recent rate,
        RELAY_BATCH_LINGER_MS at most."""
        recent = self._count(0)
        if not self._linger or recent < self._linger_from * RATE_WINDOW:
            return 0.0
        missing = min(self._gather, room) - have
        if missing <= 0:
            return 0.0
        if recent <= 0:  # a rate threshold of 0, before any record counted: no rate to go by
            return self._linger
        return min(self._linger, missing * RATE_WINDOW / recent)

    def _count(self, records: int) -> float:
        """Add ``records`` to the recent count and return it: the count decays by e every
        RATE_WINDOW seconds, so at a steady rate it is about the rate times RATE_WINDOW."""
        now = time.monotonic()
        self._recent = self._recent * math.exp((self._recent_at - now) / RATE_WINDOW) + records
        self._recent_at = now
        return self._recent

    def commit(self) -> None:
        """Mark everything polled so far as handled, and commit the handled offsets if the last
        commit is older than the commit interval. Committing per batch costs the broker a write
        per batch; a crash loses at most an interval of commits, which are delivered again and
        handled idempotently."""
        self._handled.update(self._polled)
        self._polled = {}
        if self._handled and time.monotonic() - self._committed_at >= self._commit_every:
            self._send_commit(asynchronous=True)

    def _send_commit(self, *, asynchronous: bool) -> None:
        if not self._handled:
            return
        offsets = [TopicPartition(t, p, offset) for (t, p), offset in self._handled.items()]
        self._handled = {}
        self._committed_at = time.monotonic()
        try:
            self._consumer.commit(offsets=offsets, asynchronous=asynchronous)
        except KafkaException as exc:  # e.g. a rebalance in progress
            logger.info("offsets not committed: %s", exc)

    def _on_assign(self, consumer, partitions) -> None:
        self._assigned = list(partitions)

    def assigned(self) -> bool:
        """Whether this relay owns partitions (is in its group and can deliver)."""
        return bool(self._assigned)

    def _on_revoke(self, consumer, partitions) -> None:
        # Runs inside poll(), between batches: hand over what was handled, so the partitions'
        # next owner starts after it.
        self._assigned = []
        self._send_commit(asynchronous=False)

    def lag(self) -> dict[tuple[str, int], int]:
        """Records behind the end of the log, per assigned partition (empty if unknown).
        Local calls only; call it from the thread that polls."""
        assigned = [TopicPartition(tp.topic, tp.partition) for tp in self._assigned]
        if not assigned:
            return {}
        lags = {}
        try:
            for tp in self._consumer.position(assigned):
                # From the last fetch responses: asking the broker here would stall the relay.
                _, high = self._consumer.get_watermark_offsets(tp, cached=True)
                if tp.offset >= 0 and high >= 0:
                    lags[(tp.topic, tp.partition)] = max(0, high - tp.offset)
        except (KafkaException, RuntimeError) as exc:  # RuntimeError: closed meanwhile
            logger.info("lag unknown: %s", exc)
        return lags

    def close(self) -> None:
        """Commit what was handled (never what was only polled), then leave the group."""
        self._send_commit(asynchronous=False)
        self._consumer.close()


def make_relay_consumer(topics: list[str], **overrides) -> RelayConsumer:
    return RelayConsumer(topics, **overrides)


# --- admin -----------------------------------------------------------------------------------


def make_admin(timeout_ms: int = 5000) -> KafkaAdminClient:
    return KafkaAdminClient(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
        client_id=_client_id("admin"),
        request_timeout_ms=timeout_ms,
    )


def topic_specs() -> dict[str, int]:
    """Every topic the app uses, with its partition count: the event topics and their dead
    letters (one partition: they are few, and replayed by key into the source topic)."""
    specs = {}
    for spec in settings.KAFKA_TOPICS.values():
        specs[spec["name"]] = spec["partitions"]
        specs[dead_letter_topic(spec["name"])] = 1
    return specs


def ensure_topics() -> list[str]:
    """Create the app's topics if missing (idempotent); returns the names that were created."""
    admin = make_admin()
    try:
        existing = set(admin.list_topics())
        wanted = [
            NewTopic(
                name=name,
                num_partitions=partitions,
                replication_factor=settings.KAFKA_REPLICATION_FACTOR,
                topic_configs={
                    "retention.ms": str(settings.KAFKA_RETENTION_MS),
                    "min.insync.replicas": str(settings.KAFKA_MIN_INSYNC_REPLICAS),
                },
            )
            for name, partitions in topic_specs().items()
            if name not in existing
        ]
        if not wanted:
            return []
        try:
            admin.create_topics(wanted)
        except TopicAlreadyExistsError:  # another process won the race
            pass
        return [t.name for t in wanted]
    finally:
        admin.close()


_probes: dict[str, Producer] = {}


def broker_answers(timeout: float = 2.0) -> None:
    """Raises unless a broker answers a metadata request. The probe client is made once per
    process (and bootstrap list) and keeps its connection: readiness checks every few seconds
    must not open a connection each."""
    servers = _servers()
    probe = _probes.get(servers)
    if probe is None:
        probe = _probes[servers] = Producer(
            {"bootstrap.servers": servers, "client.id": _client_id("probe"), "log_level": 0}
        )
    try:
        probe.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise KafkaUnavailable(str(exc)) from exc


def kafka_ready(timeout_ms: int = 2000) -> None:
    """Raises unless a broker answers a metadata request."""
    admin = make_admin(timeout_ms)
    try:
        admin.list_topics()
    finally:
        admin.close()
