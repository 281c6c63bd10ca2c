"""Kafka clients: the process's one idempotent producer, relay consumers and topic admin.

kafka-python's producer runs its network I/O on a background thread and hands back thread-safe
futures. ``produce`` bridges such a future into asyncio, so a socket waiting for the broker's
acknowledgement never blocks the event loop (and with it, every other socket of the process).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

logger = logging.getLogger(__name__)


class KafkaUnavailable(Exception):
    """The broker did not acknowledge in time (or could not be reached at all)."""


def topic_name(kind: str) -> str:
    """``chat`` or ``hakwon`` -> the configured topic name (with the deployment's prefix)."""
    return settings.KAFKA_TOPICS[kind]["name"]


def _client_id(role: str) -> str:
    return f"zzalu-{role}-{socket.gethostname()}-{os.getpid()}"


# --- producer --------------------------------------------------------------------------------

_producer: KafkaProducer | None = None
_producer_lock = threading.Lock()
# send() can block while it fetches metadata (first use, broker down): never on the event loop.
_blocking_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="kafka-send")


def _producer_config() -> dict:
    ack_ms = int(settings.KAFKA_ACK_TIMEOUT * 1000)
    return {
        "bootstrap_servers": settings.KAFKA_BOOTSTRAP_SERVERS,
        "client_id": _client_id("producer"),
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": settings.KAFKA_LINGER_MS,
        # Bounded so a record that could not be stored fails instead of lingering for minutes;
        # the sender was told `unavailable` long before and will retry with the same id.
        "request_timeout_ms": ack_ms,
        "delivery_timeout_ms": ack_ms + settings.KAFKA_LINGER_MS + 1000,
        "max_block_ms": ack_ms,
        "retry_backoff_ms": 100,
        "reconnect_backoff_ms": 50,
        "reconnect_backoff_max_ms": 1000,
        "bootstrap_timeout_ms": ack_ms,
    }


def get_producer() -> KafkaProducer:
    """The process-wide producer, created on first use (it reconnects by itself afterwards)."""
    global _producer
    if _producer is None:
        with _producer_lock:
            if _producer is None:
                try:
                    _producer = KafkaProducer(**_producer_config())
                except KafkaError as exc:
                    raise KafkaUnavailable(f"cannot reach Kafka: {exc}") from exc
    return _producer


def close_producer(timeout: float = 5.0) -> None:
    global _producer
    with _producer_lock:
        if _producer is not None:
            _producer.close(timeout=timeout)
            _producer = None


def _send(topic: str, key: str, value: bytes):
    try:
        return get_producer().send(topic, key=key.encode(), value=value)
    except KafkaError as exc:
        raise KafkaUnavailable(str(exc)) from exc


def produce_nowait(topic: str, key: str, value: bytes):
    """Enqueue a record; returns kafka-python's future (blocks only while fetching metadata)."""
    return _send(topic, key, value)


def produce_sync(topic: str, key: str, value: bytes, timeout: float | None = None):
    """Produce and wait for the broker's acknowledgement; raises KafkaUnavailable."""
    timeout = settings.KAFKA_ACK_TIMEOUT if timeout is None else timeout
    future = _send(topic, key, value)
    try:
        return future.get(timeout=timeout)
    except KafkaError as exc:
        raise KafkaUnavailable(str(exc)) from exc


def _metadata_known(topic: str) -> bool:
    producer = _producer
    return producer is not None and producer._metadata.partitions_for_topic(topic) is not None


async def produce(topic: str, key: str, value: bytes) -> asyncio.Future:
    """Enqueue a record from async code and return an awaitable for its acknowledgement.

    Enqueueing happens before this returns, so records enqueued one after another keep their
    order; awaiting the result waits for ``acks=all`` (or raises KafkaUnavailable).
    """
    loop = asyncio.get_running_loop()
    if _metadata_known(topic):
        kafka_future = _send(topic, key, value)  # non-blocking: partitions are cached
    else:
        kafka_future = await loop.run_in_executor(
            _blocking_pool, functools.partial(_send, topic, key, value)
        )
    acked = loop.create_future()

    def resolve(result=None, error=None):
        if not acked.done():
            if error is None:
                acked.set_result(result)
            else:
                acked.set_exception(KafkaUnavailable(str(error)))

    kafka_future.add_callback(lambda md: loop.call_soon_threadsafe(resolve, md))
    kafka_future.add_errback(lambda exc: loop.call_soon_threadsafe(resolve, None, exc))
    return acked


async def produce_and_wait(topic: str, key: str, value: bytes, timeout: float | None = None):
    timeout = settings.KAFKA_ACK_TIMEOUT if timeout is None else timeout
    try:
        acked = await asyncio.wait_for(produce(topic, key, value), timeout)
        return await asyncio.wait_for(acked, timeout)
    except TimeoutError as exc:
        raise KafkaUnavailable(f"no acknowledgement within {timeout:.1f}s") from exc


# --- consumer and admin ----------------------------------------------------------------------


def make_relay_consumer(topics: list[str], **overrides) -> KafkaConsumer:
    config = {
        "bootstrap_servers": settings.KAFKA_BOOTSTRAP_SERVERS,
        "client_id": _client_id("relay"),
        "group_id": settings.KAFKA_RELAY_GROUP,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": 500,
        "fetch_max_wait_ms": 20,
        "isolation_level": "read_committed",
        # A relay that dies is replaced within ~10 s instead of the 45 s default.
        "session_timeout_ms": 10000,
        "heartbeat_interval_ms": 3000,
        "reconnect_backoff_max_ms": 1000,
        **overrides,
    }
    consumer = KafkaConsumer(**config)
    consumer.subscribe(topics)
    return consumer


def make_admin(timeout_ms: int = 5000) -> KafkaAdminClient:
    return KafkaAdminClient(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
        client_id=_client_id("admin"),
        request_timeout_ms=timeout_ms,
    )


def ensure_topics() -> list[str]:
    """Create the app's topics if missing (idempotent); returns the names that were created."""
    admin = make_admin()
    try:
        existing = set(admin.list_topics())
        wanted = [
            NewTopic(
                name=spec["name"],
                num_partitions=spec["partitions"],
                replication_factor=settings.KAFKA_REPLICATION_FACTOR,
                topic_configs={
                    "retention.ms": str(settings.KAFKA_RETENTION_MS),
                    "min.insync.replicas": str(settings.KAFKA_MIN_INSYNC_REPLICAS),
                },
            )
            for spec in settings.KAFKA_TOPICS.values()
            if spec["name"] not in existing
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


def kafka_ready(timeout_ms: int = 2000) -> None:
    """Raises unless a broker answers a metadata request."""
    admin = make_admin(timeout_ms)
    try:
        admin.list_topics()
    finally:
        admin.close()
