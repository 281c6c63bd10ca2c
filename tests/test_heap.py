"""The garbage collector of the long-running processes (zzalu.heap)."""

from __future__ import annotations

import gc
import threading

import pytest
from prometheus_client import REGISTRY

from zzalu import heap, metrics

from .test_poison_records import sample, scrape


@pytest.fixture
def collector_restored():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    if heap._timed in gc.callbacks:
        gc.callbacks.remove(heap._timed)


def pauses(generation: int) -> tuple[float, float]:
    """(seconds, collections) of that generation, as exported."""
    labels = {"generation": str(generation)}
    return tuple(
        REGISTRY.get_sample_value(f"zzalu_gc_pause_seconds_{part}", labels) or 0.0
        for part in ("sum", "count")
    )


def test_settle_freezes_what_is_loaded_and_times_every_collection(collector_restored):
    gc.unfreeze()
    heap.settle()
    heap.settle()  # idempotent: one timer, however often it is called
    assert gc.get_freeze_count() > 10_000  # Django and the app, at least
    assert gc.get_threshold() == heap.THRESHOLDS
    assert gc.callbacks.count(heap._timed) == 1
    # (a frozen object that is freed leaves the count: it can fall by a few since)
    assert 0 <= REGISTRY.get_sample_value("zzalu_gc_frozen_objects") - gc.get_freeze_count() < 100

    _, counted = pauses(2)
    garbage = [[] for _ in range(1000)]
    for item in garbage:
        item.append(item)  # cycles: only the collector frees them
    del garbage, item
    gc.collect()
    total, now_counted = pauses(2)
    assert now_counted == counted + 1 and total > 0


def test_a_collection_set_off_while_a_scrape_holds_the_metrics_lock_does_not_wait_for_it(
    collector_restored,
):
    """A scrape copies the histogram's children under its lock, and the copy can set a
    collection off on that thread: the timer must not need that lock (it would wait for
    itself, and no collection would ever run again in the process)."""
    heap.settle()
    done = threading.Event()

    def collect_under_the_lock():
        with metrics.GC_PAUSE._lock:
            gc.collect()
        done.set()

    threading.Thread(target=collect_under_the_lock, daemon=True).start()
    assert done.wait(5), "the collector's timer waited for the metric's lock"


def test_the_web_and_relay_processes_run_with_their_startup_heap_frozen(live):
    for url in (live.web.http + "/metrics", live.relay.metrics_url):
        assert sample(scrape(url), "zzalu_gc_frozen_objects") > 10_000, url
