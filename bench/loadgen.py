"""The load generator: many real WebSocket clients (picows) in one asyncio process (uvloop).

Run by the orchestrator (``bench.__main__``) as one process or several (``--loadgen-procs``: a
room's sockets are dealt round-robin over them, the first gets every room's sender), so its CPU
is measured apart and can spread over cores:

    python -m bench.loadgen CONFIG.json

CONFIG names this process's sockets (one URL each, with its room index), optionally a join
storm (sockets opened evenly over a few seconds from the start of the first measured second),
and the steps (rates). For each step the sender process sends at a fixed total rate,
round-robin over rooms and over its sockets of each room; message ``k`` of a step is
*scheduled* at ``t0 + k / rate`` on ``time.monotonic()`` (the machine's CLOCK_MONOTONIC, shared
by every process) and its body carries that time and the time it actually went out. Latency is
receipt minus scheduled time, so a sender or server that stalls shows up in the figures instead
of shifting the schedule. A socket is expected to receive every measured message of its room
that went out after its handshake completed (a frame it gets of one sent before is counted
apart, ``before_join``: catch-up or a message in flight, neither a loss nor a duplicate). After
the last send it waits up to ``drain`` seconds for every receipt (the measured window ends
there); if some are missing, until no chat frame came for 2 s: receipts after the drain are
``late`` (delivered all the same), what has not come by then is ``lost``.

Protocol, JSON lines. Out (stdout): ``connected``; per step ``step_start`` (measurement begins:
the orchestrator samples CPU counters), ``step_end_marker`` (the drain is over: it samples
again) and ``step_end`` (this process's part: counters, plus its raw arrays in an .npz file);
``done``. In (stdin): ``{"cmd": "step", "index": i, "position": p, "t0": T}`` or
``{"cmd": "stop"}``. ``merge`` (run by the orchestrator) turns the parts into a step's figures.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from array import array
from collections import Counter, defaultdict
from pathlib import Path

import orjson
from picows import WSListener, WSMsgType, ws_connect

monotonic = time.monotonic
BODY_PAD = " zzalu bench message " + "짤" * 8
QUANTILES = 1000  # points of the latency CDF kept per step
INF = math.inf


def emit(event: str, **fields) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


async def sleep_until(t: float) -> None:
    await asyncio.sleep(max(0.0, t - monotonic()))


class Client(WSListener):
    """One socket: hands its text frames to the load generator, notes when it was accepted."""

    def __init__(self, gen: LoadGen, index: int):
        self.gen, self.index = gen, index
        self.transport = None

    def on_ws_connected(self, transport) -> None:
        self.transport = transport
        self.gen.connected_at[self.index] = monotonic()

    def on_ws_frame(self, transport, frame) -> None:
        kind = frame.msg_type
        if kind == WSMsgType.TEXT and frame.fin:
            self.gen.on_text(self.index, frame.get_payload_as_bytes())
        elif kind == WSMsgType.CLOSE:
            self.gen.frames[f"close {frame.get_close_code()}"] += 1
            transport.send_close()
            transport.disconnect()
        elif kind != WSMsgType.PONG:
            self.gen.frames[f"unexpected {kind.name} fin={frame.fin}"] += 1

    def on_ws_disconnected(self, transport) -> None:
        self.gen.closed += 1


class Step:
    """Counters for one rate step. Messages ``k < n_warm`` are warm-up and not counted."""

    def __init__(self, tag: str, rate: float, n_warm: int, n_meas: int, n_sockets: int):
        self.tag, self.rate, self.n_warm, self.n_meas = tag, rate, n_warm, n_meas
        self.tag_len = len(tag)
        self.seen = bytearray(n_sockets * n_meas)  # receipts per (socket, message)
        self.latencies = array("d")
        self.send_lag = array("d")  # actual send time - scheduled time, per measured message
        self.send_times = array("d", [math.nan]) * n_meas  # when each measured message went out
        self.ack_latencies = array("d")
        self.presence: defaultdict[int, array] = defaultdict(lambda: array("d"))
        self.unique = self.duplicates = self.sent = self.before_join = self.late = 0
        self.errors: Counter = Counter()
        self.t0 = self.measure_from = 0.0
        self.deadline = INF  # receipts after it are counted as late (still delivered)
        self.expected: int | None = None  # known when every socket was open before the step
        self.all_in = asyncio.Event()


class LoadGen:
    def __init__(self, config: dict):
        self.config = config
        sockets = config["sockets"]  # [[room_index, url], ...]
        storm = config.get("storm") or {"sockets": []}  # [[global_index, room, url], ...]
        self.urls = [url for _, url in sockets] + [url for _, _, url in storm["sockets"]]
        self.socket_room = [room for room, _ in sockets] + [room for _, room, _ in storm["sockets"]]
        self.rooms: list[list[int]] = [[] for _ in range(config["n_rooms"])]  # the senders
        self.clients: list[Client | None] = [None] * len(self.urls)
        self.room_seq = [0] * config["n_rooms"]  # the highest seq seen in each room
        self.connected_at = array("d", [INF]) * len(self.urls)
        self.handshakes = array("d")  # storm: seconds from opening to accepted
        self.storm_failed = 0
        self.step: Step | None = None
        self.last_chat_frame = self.last_any_frame = monotonic()
        self.frames: Counter = Counter()
        self.closed = 0

    # --- connecting ------------------------------------------------------------------------

    async def open(self, i: int, attempts: int, timeout: float, deadline: float = INF) -> bool:
        """Open socket ``i``, retrying; give up after ``attempts`` or at ``deadline``."""
        for attempt in range(attempts):
            left = deadline - monotonic()
            if left <= 0:
                break
            # As the page does: ask for what came after the newest message it has seen (the
            # kafka arm replays the rest, nothing falls between its history and the socket).
            seq = self.room_seq[self.socket_room[i]]
            url = self.urls[i] + (f"&after_seq={seq}" if seq else "")
            try:
                transport, client = await ws_connect(
                    lambda *_: Client(self, i),
                    url,
                    websocket_handshake_timeout=min(timeout, left),
                    max_frame_size=2**22,
                )
                if client is None or transport.is_disconnected:
                    # picows returns normally when the server drops the connection before
                    # answering (Daphne does after --websocket_connect_timeout, 5 s)
                    raise ConnectionResetError("closed during the handshake")
                self.clients[i] = client
                return True
            except Exception as exc:  # refused, timed out, or e.g. a 500 while Redis restarts
                # under the server (the machine's services are shared)
                self.frames[f"connect error {type(exc).__name__}"] += 1
                self.connected_at[i] = INF  # (in case it had been accepted before it dropped)
                if attempt < attempts - 1:
                    await asyncio.sleep(0.5 * (attempt + 1))
        return False

    async def connect_all(self) -> None:
        n = len(self.config["sockets"])
        gate = asyncio.Semaphore(self.config.get("connect_concurrency", 32))

        async def one(i: int) -> None:
            async with gate:
                if not await self.open(i, attempts=5, timeout=30):
                    raise RuntimeError(f"socket {i} could not connect: {self.urls[i]}")
            self.rooms[self.socket_room[i]].append(i)

        started = monotonic()
        await asyncio.gather(*(one(i) for i in range(n)))
        connected_in = monotonic() - started
        # Joining makes presence frames (kafka arm); let them pass before measuring anything.
        waited = await self.quiet(seconds=1.0, limit=self.config["quiet_limit"], any_frame=True)
        errors = {k: v for k, v in self.frames.items() if k.startswith("connect error")}
        emit(
            "connected",
            sockets=n,
            seconds=round(connected_in, 2),
            quiet_after=round(waited, 2),
            frames=sum(self.frames.values()) - sum(errors.values()),
            errors=errors,
        )

    async def storm(self, start: float) -> None:
        """Open the storm's sockets evenly over ``seconds`` from ``start`` (globally paced); a
        socket not accepted ``give_up`` seconds after ``start`` has failed."""
        storm = self.config["storm"]
        spacing = storm["seconds"] / max(1, storm["total"])
        first = len(self.config["sockets"])
        deadline = start + storm["give_up"]

        async def one(i: int, opened: float) -> None:
            if await self.open(i, attempts=5, timeout=30, deadline=deadline):
                self.handshakes.append(self.connected_at[i] - opened)
            else:
                self.storm_failed += 1

        tasks = []
        for offset, (g, _, _) in enumerate(storm["sockets"]):
            await sleep_until(start + g * spacing)
            tasks.append(asyncio.ensure_future(one(first + offset, monotonic())))
        await asyncio.gather(*tasks)

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

    # --- receiving -------------------------------------------------------------------------

    def on_text(self, index: int, raw: bytes) -> None:
        now = monotonic()
        self.last_any_frame = now
        frame = orjson.loads(raw)
        kind = frame.get("type")
        step = self.step
        if kind != "chat.message":
            self.frames[kind] += 1
            if step is None:
                return
            if kind == "room.presence":
                if now >= step.measure_from:
                    step.presence[index].append(now)
            elif kind == "chat.ack":
                self.on_ack(step, frame, now)
            elif kind == "error":
                step.errors[frame.get("code")] += 1
            return
        self.last_chat_frame = now
        seq = frame.get("seq")
        if seq and seq > self.room_seq[self.socket_room[index]]:
            self.room_seq[self.socket_room[index]] = seq
        cid = frame.get("client_msg_id") or ""
        if step is None or not cid.startswith(step.tag):
            self.frames["chat.message.other"] += 1  # e.g. an earlier step's, very late
            return
        j = int(cid[step.tag_len :]) - step.n_warm
        if j < 0:
            return
        scheduled, sent, _ = (frame.get("body") or "").split(" ", 2)
        if self.connected_at[index] > float(sent):
            step.before_join += 1
            return
        pos = index * step.n_meas + j
        count = step.seen[pos]
        if count:
            step.duplicates += 1
            if count < 255:
                step.seen[pos] = count + 1
            return
        step.seen[pos] = 1
        step.latencies.append(now - float(scheduled))
        step.unique += 1
        if now > step.deadline:
            step.late += 1
        if step.unique == step.expected:
            step.all_in.set()

    def on_ack(self, step: Step, frame: dict, now: float) -> None:
        cid = frame.get("client_msg_id") or ""
        if cid.startswith(step.tag):
            k = int(cid[step.tag_len :])
            if k >= step.n_warm:
                step.ack_latencies.append(now - (step.t0 + k / step.rate))

    # --- sending ---------------------------------------------------------------------------

    async def send_all(self, step: Step, n_total: int) -> None:
        rate, tag, t0 = step.rate, step.tag, step.t0
        rooms, n_rooms, clients = self.rooms, len(self.rooms), self.clients
        dumps, text = orjson.dumps, WSMsgType.TEXT
        k = 0
        while k < n_total:
            due = min(n_total, int((monotonic() - t0) * rate) + 1)
            while k < due:
                members = rooms[k % n_rooms]
                transport = clients[members[(k // n_rooms) % len(members)]].transport
                scheduled = t0 + k / rate
                sent = monotonic()
                data = dumps(
                    {
                        "type": "chat.send",
                        "client_msg_id": f"{tag}{k}",
                        "body": f"{scheduled:.6f} {sent:.6f}{BODY_PAD}",
                        "gif_url": None,
                    }
                )
                if transport.is_disconnected:
                    step.errors["send_on_closed_socket"] += 1
                else:
                    transport.send(text, data)
                if k >= step.n_warm:
                    step.sent += 1
                    step.send_lag.append(sent - scheduled)
                    step.send_times[k - step.n_warm] = sent
                k += 1
            await sleep_until(t0 + k / rate)

    async def run_step(self, index: int, spec: dict, t0: float) -> dict:
        rate = float(spec["rate"])
        n_warm = max(0, round(rate * spec["warmup"]))
        n_meas = max(1, round(rate * spec["duration"]))
        step = Step(f"{self.config['nonce']}s{index}:", rate, n_warm, n_meas, len(self.urls))
        storm = self.config.get("storm") and index == 0
        if not storm and all(at < INF for at in self.connected_at):
            sizes = Counter(self.socket_room)
            step.expected = sum(sizes[(n_warm + j) % len(self.rooms)] for j in range(n_meas))
        step.t0 = t0
        step.measure_from = t0 + n_warm / rate
        self.step = step
        jobs = []
        if self.config["sender"]:
            jobs.append(asyncio.ensure_future(self.send_all(step, n_warm + n_meas)))
        if storm:
            jobs.append(asyncio.ensure_future(self.storm(step.measure_from)))
        await sleep_until(step.measure_from)
        emit("step_start", index=index, rate=rate)
        await sleep_until(t0 + (n_warm + n_meas) / rate)
        if self.config["sender"]:
            await jobs[0]
            if step.expected is None:  # a storm: it knows when each message went out now
                step.expected = count_expected(
                    step.send_times, n_warm, self.connected_at, self.socket_room, len(self.rooms)
                )
                if step.unique >= step.expected:
                    step.all_in.set()
        sent_done = monotonic()
        step.deadline = sent_done + spec["drain"]
        try:
            await asyncio.wait_for(step.all_in.wait(), spec["drain"])
        except TimeoutError:
            pass
        marker = monotonic()
        emit("step_end_marker", index=index)  # the orchestrator samples CPU counters here
        # Not all in: let this step's backlog pass (counted, as late) until no chat frame came
        # for 2 s (at most 20 s); what has not come by then is lost.
        settle = 0.0
        if not step.all_in.is_set():
            settle = await self.quiet(seconds=2.0, limit=spec.get("settle_limit", 20.0))
        await asyncio.gather(*jobs)
        return self.part(step, index, sent_done, marker, settle)

    def part(self, step: Step, index: int, sent_done: float, marker: float, settle: float) -> dict:
        """This process's share of the step: counters here, raw arrays in an .npz file."""
        import numpy as np

        path = Path(self.config["parts_dir"]) / f"{self.config['shard']}-{index}.npz"
        np.savez(
            path,
            latencies=np.frombuffer(step.latencies),
            send_lag=np.frombuffer(step.send_lag),
            send_times=np.frombuffer(step.send_times),
            ack=np.frombuffer(step.ack_latencies),
            connected_at=np.frombuffer(self.connected_at),
            socket_room=np.array(self.socket_room, dtype=np.int32),
            handshakes=np.frombuffer(self.handshakes),
        )
        presence_max, presence_gap = 0, INF
        bins: Counter = Counter()
        for times in step.presence.values():
            t = np.frombuffer(times)
            if len(t):  # the most frames this socket got in any one second
                in_1s = np.searchsorted(t, t + 1.0) - np.arange(len(t))
                presence_max = max(presence_max, int(in_1s.max()))
            if len(t) > 1:  # and the shortest time between two (jitter or a burst?)
                presence_gap = min(presence_gap, float(np.diff(t).min()))
            bins.update(np.floor(t - step.measure_from).astype(int).tolist())
        accepted = [at for at in self.connected_at[len(self.config["sockets"]) :] if at < INF]
        return {
            "path": str(path),
            "sender": self.config["sender"],
            "sent": step.sent,
            "unique": step.unique,
            "duplicates": step.duplicates,
            "late": step.late,
            "before_join": step.before_join,
            "errors": dict(step.errors),
            "n_warm": step.n_warm,
            "measure_from": step.measure_from,
            "sent_done": sent_done,
            "marker": marker,
            "settle_seconds": round(settle, 2),
            "closed": self.closed,
            "presence_frames": sum(len(t) for t in step.presence.values()),
            "presence_max_1s": presence_max,
            "presence_min_gap": presence_gap,
            "presence_per_s": {int(k): v for k, v in bins.items()},
            "storm_connected": len(accepted),
            "storm_failed": self.storm_failed,
            "connect_errors": {k: v for k, v in self.frames.items() if k.startswith("connect")},
            "storm_last_accepted": max(accepted, default=None),
            "storm_accepted_per_s": dict(
                Counter(math.floor(at - step.measure_from) for at in accepted)
            ),
        }

    # --- main ------------------------------------------------------------------------------

    async def run(self) -> None:
        await self.connect_all()
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            command = json.loads(line) if line.strip() else {"cmd": "stop"}
            if command["cmd"] != "step":
                break
            spec = self.config["steps"][command["position"]]
            part = await self.run_step(command["index"], spec, command["t0"])
            emit("step_end", index=command["index"], part=part)
        emit("done", frames=dict(self.frames), closed=self.closed)
        for client in self.clients:
            if client is not None and not client.transport.is_disconnected:
                client.transport.send_close()
                client.transport.disconnect()
        await asyncio.sleep(0.5)


def count_expected(send_times, n_warm: int, connected_at, socket_room, n_rooms: int) -> int:
    """(socket, measured message) pairs of one room where the socket was open when the message
    went out (a message never sent counts as sent last)."""
    import numpy as np

    send_times = np.nan_to_num(np.asarray(send_times), nan=np.inf)
    connected_at, socket_room = np.asarray(connected_at), np.asarray(socket_room)
    msg_room = (n_warm + np.arange(len(send_times))) % n_rooms
    expected = 0
    for room in range(n_rooms):
        sent = np.sort(send_times[msg_room == room])
        opened = connected_at[socket_room == room]
        expected += int((len(sent) - np.searchsorted(sent, opened, side="left")).sum())
    return expected


def merge(parts: list[dict], spec: dict, n_rooms: int) -> dict:
    """One step's figures from every load generator process's part (and its .npz)."""
    import numpy as np

    arrays = [dict(np.load(p["path"])) for p in parts]
    for p in parts:
        Path(p["path"]).unlink(missing_ok=True)

    def cat(name):
        values = np.concatenate([a[name] for a in arrays]) * 1000.0
        return values if len(values) else None

    lat, lag, ack = cat("latencies"), cat("send_lag"), cat("ack")
    sender = next(a for a, p in zip(arrays, parts, strict=True) if p["sender"])
    connected = np.concatenate([a["connected_at"] for a in arrays])
    socket_room = np.concatenate([a["socket_room"] for a in arrays])
    n_warm = parts[0]["n_warm"]
    expected = count_expected(sender["send_times"], n_warm, connected, socket_room, n_rooms)

    def pct(values, q):
        return None if values is None else round(float(np.percentile(values, q)), 2)

    cdf = None
    if lat is not None:
        cdf = [round(float(v), 3) for v in np.percentile(lat, np.linspace(0, 100, QUANTILES + 1))]
    unique = sum(p["unique"] for p in parts)
    measure_from = parts[0]["measure_from"]
    sent_done = max(p["sent_done"] for p in parts)
    marker = max(p["marker"] for p in parts)
    errors: Counter = Counter()
    presence: Counter = Counter()
    accepted: Counter = Counter()
    connect_errors: Counter = Counter()
    for p in parts:
        errors.update(p["errors"])
        connect_errors.update(p["connect_errors"])
        presence.update({int(k): v for k, v in p["presence_per_s"].items()})
        accepted.update({int(k): v for k, v in p["storm_accepted_per_s"].items()})
    handshakes = np.concatenate([a["handshakes"] for a in arrays]) * 1000.0
    last = [p["storm_last_accepted"] for p in parts if p["storm_last_accepted"] is not None]
    summary = {
        "rate": float(spec["rate"]),
        "duration": spec["duration"],
        "warmup": spec["warmup"],
        "sockets": len(socket_room),
        "rooms": n_rooms,
        "sent": sum(p["sent"] for p in parts),
        "expected": expected,
        "delivered": unique,
        "lost": expected - unique,
        "duplicated": sum(p["duplicates"] for p in parts),
        "late_receipts": sum(p["late"] for p in parts),
        "before_join": sum(p["before_join"] for p in parts),
        "deliveries_per_s": round(unique / spec["duration"], 1),
        "p50_ms": pct(lat, 50),
        "p95_ms": pct(lat, 95),
        "p99_ms": pct(lat, 99),
        "max_ms": None if lat is None else round(float(lat.max()), 2),
        "mean_ms": None if lat is None else round(float(lat.mean()), 2),
        "send_lag_p99_ms": pct(lag, 99),
        "send_lag_max_ms": None if lag is None else round(float(lag.max()), 2),
        "ack_p50_ms": pct(ack, 50),
        "ack_p99_ms": pct(ack, 99),
        "errors": dict(errors),
        "send_seconds": round(sent_done - measure_from, 3),
        "window_seconds": round(marker - measure_from, 3),
        "drain_seconds": round(marker - sent_done, 3),
        "settle_seconds": max(p["settle_seconds"] for p in parts),
        "closed_sockets": sum(p["closed"] for p in parts),
        "presence_frames": sum(p["presence_frames"] for p in parts),
        "presence_max_1s": max(p["presence_max_1s"] for p in parts),
        "presence_min_gap_ms": (
            None if (gap := min(p["presence_min_gap"] for p in parts)) == INF else round(gap * 1e3)
        ),
        "latency_cdf_ms": cdf,
    }
    if spec.get("storm"):
        span = max(presence | accepted, default=-1) + 1
        summary["storm"] = {
            "sockets": spec["storm"],
            "connected": sum(p["storm_connected"] for p in parts),
            "failed": sum(p["storm_failed"] for p in parts),
            "failed_attempts": dict(connect_errors),
            "connect_span_s": None if not last else round(max(last) - measure_from, 2),
            "handshake_p50_ms": None if not len(handshakes) else pct(handshakes, 50),
            "handshake_p99_ms": None if not len(handshakes) else pct(handshakes, 99),
            "presence_per_s": [presence.get(s, 0) for s in range(span)],
            "accepted_per_s": [accepted.get(s, 0) for s in range(span)],
        }
    return summary


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
