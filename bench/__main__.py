"""``python -m bench``: run the benchmark (see ``--help`` and docs/performance.md).

Scenarios:
  a  R rooms x S sockets (default 20 x 10), the total send rate stepped up to find each arm's
     highest rate with zero loss and p99 under the limit (250 ms);
  b  fan-out: one room with many sockets (default 500) at a few rates;
  c  is a and b served by Daphne and by Uvicorn: ``--server daphne,uvicorn``.

Arms, served by the same web process and run in alternating rounds:
  kafka   the real pipeline: /ws/rooms/<id>/ -> Kafka -> relay -> channel layer -> sockets
  direct  the Channels-tutorial consumer (bench/direct.py): /ws/direct/<id>/ -> group_send
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from . import report
from .stack import (
    BENCH_LOCAL,
    ROOT,
    AppStack,
    CpuMeter,
    base_env,
    cleanup,
    environ_for_django,
    prepare_database,
    service_pid,
    services_up,
    wait_for_services,
)

ARMS = ("kafka", "direct")
PROCESSES = ("web", "relay", "redis", "kafka", "loadgen")


def csv(kind):
    return lambda text: [kind(x) for x in text.split(",") if x.strip()]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--scenario", type=csv(str), default=["a", "b"], help="a,b (default both)")
    p.add_argument("--server", type=csv(str), default=["daphne"], help="daphne,uvicorn")
    p.add_argument("--layer", type=csv(str), default=["pubsub"], help="pubsub,core")
    p.add_argument("--arms", type=csv(str), default=list(ARMS))
    p.add_argument("--rooms", type=int, default=20, help="scenario a: rooms")
    p.add_argument("--sockets", type=int, default=10, help="scenario a: sockets per room")
    p.add_argument(
        "--rates",
        type=csv(float),
        default=[50, 100],
        help="scenario a: total msg/s, stepped up in this order",
    )
    p.add_argument(
        "--fanout-sockets",
        type=csv(int),
        default=[500],
        help="scenario b: sockets in the one room (several = growth check)",
    )
    p.add_argument("--fanout-rates", type=csv(float), default=[2], help="scenario b: msg/s")
    p.add_argument(
        "--fanout-deliveries",
        type=csv(float),
        default=None,
        help="scenario b: target deliveries/s instead of rates (rate = deliveries / sockets), "
        "so room sizes are compared at the same delivery rate",
    )
    p.add_argument("--duration", type=float, default=3.0, help="measured seconds per step")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds per step")
    p.add_argument(
        "--drain",
        type=float,
        default=4.0,
        help="seconds after the last send to wait for receipts (then: lost)",
    )
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds per arm")
    p.add_argument("--p99-limit", type=float, default=250.0, help="ms, for 'sustainable'")
    p.add_argument(
        "--stop-after-failures",
        type=int,
        default=1,
        help="stop stepping an arm up after this many failed steps in a row (0: never)",
    )
    p.add_argument(
        "--quiet-cores",
        type=float,
        default=0.4,
        help="before each arm's round, wait until the rest of the machine uses less "
        "than this many cores (the machine is shared; 0: don't wait)",
    )
    p.add_argument("--quiet-wait", type=float, default=5.0, help="at most this many seconds")
    p.add_argument(
        "--noisy-repeats",
        type=int,
        default=1,
        help="measure a failed step again (up to this many times) when others used more than "
        "--quiet-cores during it",
    )
    p.add_argument("--debug", action="store_true", help="run the servers with DEBUG=true")
    p.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the web and relay processes during the last round's steps",
    )
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the web and relay processes (a lever to try)",
    )
    p.add_argument("--label", default="", help="a name for this run (the lever tried)")
    p.add_argument("--out", type=Path, default=None, help="default bench/results/<timestamp>/")
    p.add_argument("--keep-db", action="store_true")
    return p.parse_args(argv)


class LoadgenFailed(RuntimeError):
    pass


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        self.run_id = f"{stamp}-{os.getpid()}"
        self.out: Path = args.out or ROOT / "bench" / "results" / stamp
        self.out.mkdir(parents=True, exist_ok=True)
        self.db_path = BENCH_LOCAL / self.run_id / "db.sqlite3"
        self.env = base_env(self.run_id, self.db_path, debug=args.debug)
        for pair in args.env:
            key, _, value = pair.partition("=")
            self.env[key] = value
        self.results: list[dict] = []
        self.discarded: list[dict] = []
        self.meta: dict = {}

    # --- setup -------------------------------------------------------------------------------

    def setup(self) -> None:
        services_up()
        environ_for_django(self.env)
        import django

        django.setup()
        from zzalu.kafka import ensure_topics

        prepare_database(self.db_path)
        ensure_topics()
        self.users, self.tokens = self._members()
        self.rooms_a = self._rooms(self.args.rooms, "a")
        self.room_b = self._rooms(1, "b")[0]
        self.meta = report.machine_info()
        self.meta.update(run_id=self.run_id, args=vars(self.args) | {"out": str(self.out)})

    def _members(self):
        from rest_framework_simplejwt.tokens import AccessToken

        from accounts.models import User

        need = max(self.args.rooms * self.args.sockets, *self.args.fanout_sockets, 1)
        users = [
            User(username=f"bench{i}", nickname=f"벤치{i}", password="!unusable")
            for i in range(need)
        ]
        User.objects.bulk_create(users, batch_size=500)
        users = list(User.objects.filter(username__startswith="bench").order_by("pk"))
        return users, [str(AccessToken.for_user(u)) for u in users]

    def _rooms(self, n: int, label: str) -> list[int]:
        from chat.models import ChatRoom

        owner = self.users[0]
        return [ChatRoom.objects.create(owner=owner, name=f"bench {label}{i}").pk for i in range(n)]

    # --- running -----------------------------------------------------------------------------

    def run(self) -> None:
        self.setup()
        started = time.monotonic()
        try:
            for server in self.args.server:
                for layer in self.args.layer:
                    self._run_config(server, layer)
        finally:
            self.meta["wall_seconds"] = round(time.monotonic() - started, 1)
            self._write()
            cleanup(self.run_id)
            if not self.args.keep_db:
                for path in self.db_path.parent.glob("*"):
                    path.unlink()
                self.db_path.parent.rmdir()
        report.write_summary(self.results, self.args, self.out)
        report.plots(self.results, self.out)
        print(f"\nresults: {self.out}/results.json, latency_cdf.png, throughput.png")

    def _run_config(self, server: str, layer: str) -> None:
        tag = f"{server}-{layer}"
        stack = AppStack(
            server=server, layer=layer, env=self.env, log_dir=self.out / "logs", tag=tag
        ).start()
        print(
            f"\n== {server} + {layer} layer: web pid {stack.web.pid}, relay pid "
            f"{stack.relay.pid}, port {stack.port}",
            flush=True,
        )
        try:
            report.print_header()
            for scenario in self.args.scenario:
                if scenario == "a":
                    rooms = [(room, self.args.sockets) for room in self.rooms_a]
                    self._rounds(stack, "a", rooms, self.args.rates)
                elif scenario == "b":
                    for n in self.args.fanout_sockets:
                        rates = self.args.fanout_rates
                        if self.args.fanout_deliveries:
                            rates = [round(d / n, 3) for d in self.args.fanout_deliveries]
                        self._rounds(stack, "b", [(self.room_b, n)], rates)
                else:
                    raise SystemExit(f"unknown scenario {scenario!r}")
        finally:
            stack.stop()

    def _rounds(self, stack: AppStack, scenario: str, rooms, rates) -> None:
        for round_no in range(self.args.rounds):
            arms = self.args.arms if round_no % 2 == 0 else list(reversed(self.args.arms))
            for arm in arms:
                for attempt in range(3):
                    try:
                        records = self._loadgen(stack, scenario, arm, round_no, rooms, rates)
                    except LoadgenFailed as exc:
                        if attempt == 2:
                            raise
                        print(f"   ! {exc}; repeating this arm's round", flush=True)
                        wait_for_services()
                        continue
                    disturbed = [r for r in records if r["disturbed"]]
                    if not disturbed:
                        self.results.extend(records)
                        break
                    # Kafka or Redis was restarted under us (other people's tests share them):
                    # keep the figures on file, out of the summary, and run the arm again.
                    for r in records:
                        r["discarded"] = True
                    self.discarded.extend(records)
                    print(
                        f"   ! {disturbed[0]['disturbed']}: repeating this arm's round "
                        f"(attempt {attempt + 2})",
                        flush=True,
                    )
                    wait_for_services()

    def _socket_urls(self, stack: AppStack, arm: str, rooms) -> list[list]:
        path = "rooms" if arm == "kafka" else "direct"
        urls, i = [], 0
        for room_index, (room_id, n) in enumerate(rooms):
            for _ in range(n):
                token = self.tokens[i % len(self.tokens)]
                urls.append([room_index, f"{stack.ws}/ws/{path}/{room_id}/?token={token}"])
                i += 1
        return urls

    def _loadgen(self, stack: AppStack, scenario, arm, round_no, rooms, rates) -> list[dict]:
        a = self.args
        records: list[dict] = []
        config = {
            "nonce": f"{arm[0]}{round_no}{int(time.time() * 1000) % 10**8}",
            "sockets": self._socket_urls(stack, arm, rooms),
            "steps": [
                {
                    "rate": r,
                    "warmup": a.warmup,
                    "duration": a.duration,
                    "drain": a.drain,
                    "p99_limit_ms": a.p99_limit,
                }
                for r in rates
            ],
        }
        busy = self._wait_quiet()
        config_path = self.out / "loadgen-config.json"
        config_path.write_text(json.dumps(config))
        with open(self.out / "loadgen.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.loadgen", str(config_path)],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        pids = {**stack.pids(), "loadgen": proc.pid}
        meter = CpuMeter(pids)
        before = None
        failures = repeats = 0
        profilers: list[subprocess.Popen] = []
        label = dict(
            scenario=scenario,
            server=stack.server,
            layer=stack.layer,
            arm=arm,
            round=round_no,
            n_rooms=len(rooms),
            sockets_per_room=rooms[0][1],
            busy_cores_before=busy,
        )
        for line in proc.stdout:
            event = json.loads(line)
            kind = event["event"]
            if kind == "step_start":
                before = meter.sample()
                if a.profile and round_no == a.rounds - 1:
                    profilers = self._profile(stack, scenario, arm, event["rate"], rooms)
            elif kind == "step_end_marker":
                after = meter.sample()
                cpu = CpuMeter.delta(before, after)
                for prof in profilers:
                    prof.wait()
                profilers = []
            elif kind == "step_end":
                record = {**label, **event["summary"], "cpu_s": cpu}
                delivered = max(record["delivered"], 1)
                record["cpu_per_1k"] = {k: round(v * 1000.0 / delivered, 4) for k, v in cpu.items()}
                record["disturbed"] = self._disturbed(pids, record)
                window = max(record["window_seconds"], 1e-3)
                record["other_cores"] = round(cpu.get("other", 0.0) / window, 2)
                noisy = bool(a.quiet_cores) and record["other_cores"] > a.quiet_cores
                report.print_row(record)
                if not record["passed"] and noisy and repeats < a.noisy_repeats:
                    # Failed while other tenants of the machine were busy: on file, out of the
                    # summary, and the same rate is measured again.
                    repeats += 1
                    record["discarded"] = f"noisy: {record['other_cores']} cores used by others"
                    self.discarded.append(record)
                    print(
                        f"   ! {record['discarded']}; measuring {record['rate']:g} again",
                        flush=True,
                    )
                    self._wait_quiet()
                    answer = "repeat"
                else:
                    repeats = 0
                    records.append(record)
                    failures = 0 if record["passed"] else failures + 1
                    stop = a.stop_after_failures and failures >= a.stop_after_failures
                    answer = "stop" if stop else "next"
                proc.stdin.write(answer + "\n")
                proc.stdin.flush()
            elif kind == "connected":
                print(
                    f"   [{scenario} {arm} round {round_no + 1}] {event['sockets']} sockets "
                    f"connected in {event['seconds']}s",
                    flush=True,
                )
            elif kind == "done":
                self.meta.setdefault("frames", []).append({**label, **event})
        proc.stdin.close()
        code = proc.wait()
        if code != 0:
            tail = (self.out / "loadgen.log").read_text(errors="replace")[-1500:]
            raise LoadgenFailed(f"load generator failed ({code}): ...{tail[-300:]}")
        if not stack.web.running:
            raise RuntimeError(f"{stack.web.name} died:\n{stack.web.log_tail()}")
        if not stack.relay.running:
            # Seen when the shared broker restarts under it (an offset commit that cannot reach
            # the broker ends the relay): note it, start another, and measure the round again.
            print(f"   ! the relay exited (log: {stack.relay.log_path}); restarting it", flush=True)
            self.meta.setdefault("relay_exits", []).append(time.time())
            stack.relay.start()
            raise LoadgenFailed("the relay exited during the round")
        return records

    def _wait_quiet(self) -> float:
        """Cores the machine is busy with while this run is idle (other people's tests)."""
        import psutil

        deadline = time.monotonic() + self.args.quiet_wait
        while True:
            t = psutil.cpu_times_percent(interval=1.0)
            busy = psutil.cpu_count() * (100.0 - t.idle - getattr(t, "iowait", 0.0)) / 100.0
            if not self.args.quiet_cores or busy < self.args.quiet_cores:
                return round(busy, 2)
            if time.monotonic() > deadline:
                print(
                    f"   (machine still busy: {busy:.2f} cores in use by others; going on)",
                    flush=True,
                )
                return round(busy, 2)
            time.sleep(1.0)

    @staticmethod
    def _disturbed(pids: dict, record: dict) -> str | None:
        for name in ("kafka", "redis"):
            if service_pid(name) != pids[name]:
                pids[name] = service_pid(name)
                return f"{name} was restarted during the step"
        if record["errors"].get("unavailable"):
            return "the web server reported Kafka unavailable"
        return None

    def _profile(self, stack, scenario, arm, rate, rooms) -> list[subprocess.Popen]:
        out = []
        for name, pid in (("web", stack.web.pid), ("relay", stack.relay.pid)):
            path = (
                self.out
                / "profiles"
                / f"{stack.server}-{stack.layer}-{scenario}-{arm}-{int(rate)}-{name}.txt"
            )
            path.parent.mkdir(exist_ok=True)
            out.append(
                subprocess.Popen(
                    [
                        str(Path(sys.executable).parent / "py-spy"),
                        "record",
                        "--pid",
                        str(pid),
                        "--duration",
                        str(int(self.args.duration)),
                        "--rate",
                        "100",
                        "--nonblocking",
                        "--format",
                        "raw",
                        "--output",
                        str(path),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        return out

    def _write(self) -> None:
        (self.out / "results.json").write_text(
            json.dumps(
                {"meta": self.meta, "results": self.results, "discarded": self.discarded},
                indent=1,
            )
        )


def ensure_requirements() -> None:
    """``make bench`` on a fresh machine: install requirements-bench.txt into this venv once."""
    try:
        import matplotlib  # noqa: F401
        import psutil  # noqa: F401
    except ImportError:
        print("installing requirements-bench.txt ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "-r", ROOT / "requirements-bench.txt"],
            check=True,
        )


def main(argv=None) -> None:
    args = parse_args(argv)
    ensure_requirements()
    Bench(args).run()


if __name__ == "__main__":
    main()
