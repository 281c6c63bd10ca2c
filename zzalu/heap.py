"""The garbage collector of the long-running processes (web, relay, sweeper, scheduler).

Python's cycle collector stops the whole process while it walks every container object of the
generations it collects. A web process holds ~150,000 of them once Django is loaded, and each
open socket adds ~175 more; at the interpreter's default thresholds (700, 10, 10) a join storm of
2,000 sockets ran ~630 young and 5 full collections, 2.2 s of CPU out of ~10, and the full ones
stopped the event loop for up to 330-520 ms each, in front of every delivery.

``settle()``, once the process has loaded what it serves with, collects once and freezes what is
left (the modules, the URL conf, the settings: alive until exit, never garbage) so no later
collection walks it again, and makes young collections rarer: with (10,000, 10, 10) the same
storm ran ~45 young and 1 full collection, 0.86 s of CPU, the longest pause 84-144 ms
(docs/decisions/0016). Garbage that is not a cycle is freed at once by reference counting
whatever the thresholds; only cyclic garbage waits longer, until its generation's next
collection.

Each collection's pause is exported as ``zzalu_gc_pause_seconds{generation}``, and the number of
frozen objects as ``zzalu_gc_frozen_objects``.
"""

from __future__ import annotations

import gc
import time

from . import metrics

THRESHOLDS = (10_000, 10, 10)

_started: list[float] = []  # the running collection's start (collections never nest)
# Each generation's histogram, looked up once: the timer runs inside whatever allocation set
# the collection off, and looking a label up takes the metric's lock, which a scrape holds
# while it copies the metric's children (a copy that can set a collection off itself).
_pauses: list = []


def settle() -> None:
    """Freeze what the process loaded and make collections rarer; call once it is ready to
    serve, before it takes work (idempotent)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    metrics.GC_FROZEN_OBJECTS.set(gc.get_freeze_count())
    _pauses[:] = [metrics.GC_PAUSE.labels(str(generation)) for generation in range(3)]
    if _timed not in gc.callbacks:
        gc.callbacks.append(_timed)


def _timed(phase: str, info: dict) -> None:
    if phase == "start":
        _started[:] = [time.perf_counter()]
    elif _started:
        _pauses[info["generation"]].observe(time.perf_counter() - _started.pop())
