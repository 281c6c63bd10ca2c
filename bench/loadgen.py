"""The load generator: many real WebSocket clients in one asyncio process (uvloop).

Run by the orchestrator (``bench.__main__``) as its own process, so its CPU is measured apart:

    python -m bench.loadgen CONFIG.json

CONFIG names the sockets (one URL per socket, with its room index) and the steps (rates). For
each step it sends at a fixed total rate, round-robin over rooms and over the sockets of each
room; message ``k`` of a step is *scheduled* at ``t0 + k / rate`` on ``time.monotonic()`` (the
machine's CLOCK_MONOTONIC, shared by every process) and carries that time in its body. Latency
is receipt time minus scheduled time, so a sender or server that stalls shows up in the figures
instead of shifting the schedule.

It talks to the orchestrator in JSON lines on stdout: ``connected``, then for every step
``step_start`` (measurement begins: the orchestrator samples CPU counters) and ``step_end``
(with the step's figures), then ``done``. Nothing else is written to stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from array import array
from collections import Counter

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

monotonic = time.monotonic
BODY_PAD = " zzalu bench message " + "짤" * 8
QUANTILES = 1000  # points of the latency CDF kept per step


def emit(event: str, **fields) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


class Step:
    """Counters for one rate step. Messages ``k < n_warm`` are warm-up and not counted."""

    def __init__(self, tag: str, rate: float, n_warm: int, n_meas: int, room_sizes: list[int]):
        self.tag, self.rate, self.n_warm, self.n_meas = tag, rate, n_warm, n_meas
        self.tag_len = len(tag)
        self.n_sockets = sum(room_sizes)
        self.room_sizes = room_sizes
        self.n_rooms = len(room_sizes)
        # expected receipts per measured message = sockets in its room (sender's echo included)
        self.expected = sum(room_sizes[(n_warm + j) % self.n_rooms] for j in range(n_meas))
        self.seen = bytearray(self.n_sockets * n_meas)  # receipts per (socket, message)
        self.latencies = array("d")
        self.unique = 0
        self.duplicates = 0
        self.sent = 0
        self.send_lag = array("d")  # actual send time - scheduled time, per measured message
        self.ack_latencies = array("d")
        self.errors: Counter = Counter()
        self.late = 0  # receipts that came after this step's drain deadline
        self.t0 = 0.0
        self.all_in = asyncio.Event()


class LoadGen:
    def __init__(self, config: dict):
        self.config = config
        self.sockets: list = []  # websockets connections, index = socket id
        self.rooms: list[list[int]] = []  # room index -> socket ids
        self.step: Step | None = None
        self.previous: Step | None = None
        self.last_chat_frame = monotonic()
        self.frames: Counter = Counter()
        self.closed = 0
        self.readers: list[asyncio.Task] = []

    # --- connecting ------------------------------------------------------------------------

    async def connect_all(self) -> None:
        urls = self.config["sockets"]  # [[room_index, url], ...]
        n_rooms = 1 + max(room for room, _ in urls)
        self.rooms = [[] for _ in range(n_rooms)]
        self.sockets = [None] * len(urls)
        gate = asyncio.Semaphore(self.config.get("connect_concurrency", 32))

        async def one(i: int, room: int, url: str) -> None:
            async with gate:
                for attempt in range(5):
                    try:
                        ws = await connect(
                            url,
                            open_timeout=30,
                            compression=None,
                            max_size=2**22,
                            ping_interval=None,
                            close_timeout=2,
                        )
                        break
                    except (OSError, TimeoutError, InvalidHandshake):  # e.g. a 500 while
                        # Redis restarts under the server (the machine's services are shared)
                        if attempt == 4:
                            raise
                        await asyncio.sleep(0.5 * (attempt + 1))
            self.sockets[i] = ws
            self.rooms[room].append(i)
            self.readers.append(asyncio.ensure_future(self.reader(i, ws)))

        started = monotonic()
        await asyncio.gather(*(one(i, room, url) for i, (room, url) in enumerate(urls)))
        connected_in = monotonic() - started
        # Joining makes presence frames (kafka arm); let them pass before measuring anything.
        await self.quiet(seconds=1.0, limit=60.0, any_frame=True)
        emit("connected", sockets=len(self.sockets), seconds=round(connected_in, 2))

    async def quiet(self, *, seconds: float, limit: float, any_frame: bool = False) -> float:
        """Wait until no (chat) frame arrived for ``seconds``; returns how long it took."""
        started = monotonic()
        while monotonic() - started < limit:
            last = self.last_any_frame if any_frame else self.last_chat_frame
            idle = monotonic() - last
            if idle >= seconds:
                break
            await asyncio.sleep(seconds - idle + 0.01)
        return monotonic() - started

    last_any_frame = 0.0

    # --- receiving -------------------------------------------------------------------------

    async def reader(self, index: int, ws) -> None:
        loads = orjson.loads
        frames = self.frames
        try:
            async for raw in ws:
                now = monotonic()
                self.last_any_frame = now
                frame = loads(raw)
                kind = frame.get("type")
                if kind != "chat.message":
                    frames[kind] += 1
                    if kind == "chat.ack":
                        self.on_ack(frame, now)
                    elif kind == "error":
                        step = self.step
                        if step is not None:
                            step.errors[frame.get("code")] += 1
                    continue
                self.last_chat_frame = now
                cid = frame.get("client_msg_id") or ""
                step = self.step
                if step is None or not cid.startswith(step.tag):
                    previous = self.previous
                    if previous is not None and cid.startswith(previous.tag):
                        previous.late += 1
                    else:
                        frames["chat.message.other"] += 1
                    continue
                k = int(cid[step.tag_len :])
                j = k - step.n_warm
                if j < 0:
                    continue
                pos = index * step.n_meas + j
                count = step.seen[pos]
                if count:
                    step.duplicates += 1
                    if count < 255:
                        step.seen[pos] = count + 1
                    continue
                step.seen[pos] = 1
                body = frame.get("body") or ""
                step.latencies.append(now - float(body.split(" ", 1)[0]))
                step.unique += 1
                if step.unique == step.expected:
                    step.all_in.set()
        except ConnectionClosed:
            pass
        finally:
            self.closed += 1

    def on_ack(self, frame: dict, now: float) -> None:
        step = self.step
        cid = frame.get("client_msg_id") or ""
        if step is None or not cid.startswith(step.tag):
            return
        k = int(cid[step.tag_len :])
        if k >= step.n_warm:
            step.ack_latencies.append(now - (step.t0 + k / step.rate))

    # --- sending ---------------------------------------------------------------------------

    async def send_all(self, step: Step, n_total: int) -> None:
        rate, tag = step.rate, step.tag
        rooms, n_rooms = self.rooms, len(self.rooms)
        sockets = self.sockets
        t0 = step.t0
        k = 0
        dumps = orjson.dumps
        while k < n_total:
            due = min(n_total, int((monotonic() - t0) * rate) + 1)
            while k < due:
                members = rooms[k % n_rooms]
                ws = sockets[members[(k // n_rooms) % len(members)]]
                scheduled = t0 + k / rate
                frame = dumps(
                    {
                        "type": "chat.send",
                        "client_msg_id": f"{tag}{k}",
                        "body": f"{scheduled:.6f}{BODY_PAD}",
                        "gif_url": None,
                    }
                ).decode()
                try:
                    await ws.send(frame)
                except ConnectionClosed:
                    step.errors["send_on_closed_socket"] += 1
                if k >= step.n_warm:
                    step.sent += 1
                    step.send_lag.append(monotonic() - scheduled)
                k += 1
            delay = t0 + k / rate - monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def run_step(self, index: int, spec: dict) -> dict:
        rate = float(spec["rate"])
        n_warm = max(0, round(rate * spec["warmup"]))
        n_meas = max(1, round(rate * spec["duration"]))
        room_sizes = [len(members) for members in self.rooms]
        step = Step(f"{self.config['nonce']}s{index}:", rate, n_warm, n_meas, room_sizes)
        self.previous, self.step = self.step, step
        step.t0 = monotonic() + 0.05
        sender = asyncio.ensure_future(self.send_all(step, n_warm + n_meas))
        measure_from = step.t0 + n_warm / rate
        await asyncio.sleep(max(0.0, measure_from - monotonic()))
        emit("step_start", index=index, rate=rate)
        await sender
        sent_done = monotonic()
        try:
            await asyncio.wait_for(step.all_in.wait(), spec["drain"])
        except TimeoutError:
            pass
        measured_end = monotonic()
        emit("step_end_marker", index=index)  # the orchestrator samples CPU counters here
        summary = self.summarize(step, spec, measure_from, sent_done, measured_end)
        # Let a backlog of this step pass before the next one, and count what arrives late.
        summary["settle_seconds"] = round(
            await self.quiet(seconds=0.5, limit=spec.get("settle_limit", 20.0)), 2
        )
        summary["late_receipts"] = step.late
        return summary

    def summarize(self, step: Step, spec, measure_from, sent_done, measured_end) -> dict:
        import numpy as np

        lat = np.frombuffer(step.latencies, dtype=np.float64) * 1000.0 if step.latencies else None
        lag = np.frombuffer(step.send_lag, dtype=np.float64) * 1000.0 if step.send_lag else None
        ack = (
            np.frombuffer(step.ack_latencies, dtype=np.float64) * 1000.0
            if step.ack_latencies
            else None
        )

        def pct(values, q):
            return None if values is None else round(float(np.percentile(values, q)), 2)

        cdf = None
        if lat is not None:
            qs = np.linspace(0, 100, QUANTILES + 1)
            cdf = [round(float(v), 3) for v in np.percentile(lat, qs)]
        return {
            "rate": step.rate,
            "duration": spec["duration"],
            "warmup": spec["warmup"],
            "sockets": step.n_sockets,
            "rooms": step.n_rooms,
            "sent": step.sent,
            "expected": step.expected,
            "delivered": step.unique,
            "lost": step.expected - step.unique,
            "duplicated": step.duplicates,
            "deliveries_per_s": round(step.unique / spec["duration"], 1),
            "p50_ms": pct(lat, 50),
            "p95_ms": pct(lat, 95),
            "p99_ms": pct(lat, 99),
            "max_ms": None if lat is None else round(float(lat.max()), 2),
            "mean_ms": None if lat is None else round(float(lat.mean()), 2),
            "send_lag_p99_ms": pct(lag, 99),
            "send_lag_max_ms": None if lag is None else round(float(lag.max()), 2),
            "ack_p50_ms": pct(ack, 50),
            "ack_p99_ms": pct(ack, 99),
            "errors": dict(step.errors),
            "send_seconds": round(sent_done - measure_from, 3),
            "window_seconds": round(measured_end - measure_from, 3),
            "drain_seconds": round(measured_end - sent_done, 3),
            "latency_cdf_ms": cdf,
        }

    # --- main ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Steps in order; after each, the orchestrator answers next, repeat or stop on stdin."""
        await self.connect_all()
        loop = asyncio.get_running_loop()
        steps = self.config["steps"]
        position, index = 0, 0
        while position < len(steps):
            spec = steps[position]
            summary = await self.run_step(index, spec)
            passed = summary["lost"] == 0 and (summary["p99_ms"] or 1e9) < spec["p99_limit_ms"]
            summary["passed"] = passed
            summary["closed_sockets"] = self.closed
            emit("step_end", index=index, summary=summary)
            index += 1
            answer = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
            if answer == "stop" or not answer or self.closed:
                break  # (closed sockets: later steps would mean nothing)
            if answer == "next":
                position += 1
        emit("done", frames=dict(self.frames), closed=self.closed)
        await asyncio.gather(
            *(ws.close() for ws in self.sockets if ws is not None), return_exceptions=True
        )


def main() -> None:
    with open(sys.argv[1]) as f:
        config = json.load(f)
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(LoadGen(config).run())


if __name__ == "__main__":
    main()
