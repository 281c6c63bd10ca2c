"""Every Prometheus metric the app exports, in one place, and the two ways to expose them.

Web processes answer ``/metrics`` (``metrics_view``); workers serve their own port
(``serve_metrics``). Each process exports its own counters, so scrape every process.
"""

from __future__ import annotations

import logging

from django.http import HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

# --- relay -----------------------------------------------------------------------------------
RECORDS_HANDLED = Counter(
    "zzalu_relay_records_handled", "Records the relay stored and announced", ["topic"]
)
RECORDS_DEAD_LETTERED = Counter(
    "zzalu_relay_records_dead_lettered", "Poison records written to <topic>.dlq", ["topic"]
)
BATCH_SECONDS = Histogram(
    "zzalu_relay_batch_seconds",
    "Time to handle one polled batch of one topic",
    ["topic"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# --- every worker ----------------------------------------------------------------------------
UPLOADS = Counter(
    "zzalu_uploads", "Image uploads by result: stored, unsupported_media, too_large", ["result"]
)
WORKER_FAILURES = Counter(
    "zzalu_worker_failures", "Rounds of a worker that failed and were retried", ["worker"]
)
WORKER_LAST_BEAT = Gauge(
    "zzalu_worker_last_beat_timestamp_seconds",
    "Unix time of the worker's last good round",
    ["worker"],
)

# --- every long-running process (zzalu.heap) -------------------------------------------------
GC_PAUSE = Histogram(
    "zzalu_gc_pause_seconds",
    "How long each garbage collection stopped the process, by generation",
    ["generation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
GC_FROZEN_OBJECTS = Gauge(
    "zzalu_gc_frozen_objects", "Objects loaded at startup that collections no longer walk"
)

# --- sockets (web) ---------------------------------------------------------------------------
OPEN_SOCKETS = Gauge("zzalu_open_sockets", "Open WebSockets", ["route"])
ACKS = Counter("zzalu_socket_acks", "Sends acknowledged to the client", ["route"])
UNAVAILABLE = Counter(
    "zzalu_socket_unavailable", "Sends answered 'unavailable' (not confirmed in time)", ["route"]
)
CATCH_UP_ENTRIES = Counter(
    "zzalu_socket_catch_up_entries",
    "Log entries replayed to sockets catching up, by source: kept (the web process's fan-out,"
    " the last seconds of a room) or log (read from the database)",
    ["source"],
)


class LagCollector:
    """The relay's lag per partition as its loop last measured it (after each poll). The
    scrape thread never calls into the Kafka client: a scrape must not wait on it."""

    def __init__(self, lags):
        self.lags = lags  # () -> {(topic, partition): records behind}

    def collect(self):
        gauge = GaugeMetricFamily(
            "zzalu_relay_lag_records",
            "Records behind the end of the log",
            labels=["topic", "partition"],
        )
        for (topic, partition), lag in dict(self.lags()).items():
            gauge.add_metric([topic, str(partition)], lag)
        yield gauge


class OutboxCollector:
    """Pending and dead outbox rows, counted when scraped (cheap: both are indexed)."""

    def collect(self):
        from django.db import DatabaseError

        from outbox.selectors import outbox_counts

        try:
            counts = outbox_counts()
        except DatabaseError:
            return  # the scrape still answers; the gap in the series says what happened
        for name, value in counts.items():
            gauge = GaugeMetricFamily(f"zzalu_outbox_{name}_rows", f"Outbox rows {name}")
            gauge.add_metric([], value)
            yield gauge


def metrics_view(request) -> HttpResponse:
    register_outbox_collector()
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


def serve_metrics(port: int) -> None:
    """Serve this process's metrics on ``port`` (0: don't). A port already taken (a second
    worker on the same host) is logged, not fatal: the worker matters more than its metrics."""
    if not port:
        return
    try:
        start_http_server(port, addr="0.0.0.0")
    except OSError as exc:
        logger.warning("metrics not served on port %s: %s", port, exc)
        return
    logger.info("metrics on :%s/metrics", port)


_outbox_registered = False


def register_outbox_collector() -> None:
    global _outbox_registered
    if not _outbox_registered:
        REGISTRY.register(OutboxCollector())
        _outbox_registered = True
