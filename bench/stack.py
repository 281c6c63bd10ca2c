"""The real stack for the benchmark: its own database, topics and Redis namespace, real processes.

Kafka and Redis are the ones ``ops/services.py`` runs (reused, started only if unreachable; never
stopped). The web server (the Procfile's Daphne, or Uvicorn) and the relay (the
Procfile's) are started here with the benchmark's environment, exactly as they run in production,
and stopped at the end. Nothing of a benchmark run is left behind in Kafka or Redis.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from zzalu import procfile
from zzalu.procfile import Process, free_port

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".local" / "run"
BENCH_LOCAL = ROOT / ".local" / "bench"


def base_env(run_id: str, db_path: Path, *, debug: bool) -> dict[str, str]:
    """What every process of the run shares (the orchestrator configures Django with it too)."""
    prefix = f"bench-{run_id}"
    return {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DEBUG": "true" if debug else "false",
        "SECRET_KEY": "bench-only-secret-key-not-used-anywhere-else-0123456789",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"sqlite:///{db_path}",
        "KAFKA_TOPIC_PREFIX": f"{prefix}.",
        "CHANNEL_LAYER_PREFIX": prefix,
        "CACHE_PREFIX": prefix,
        "REDIS_URL": "redis://127.0.0.1:6379/2",
        # The benchmark sends far more per member than a person would; the limit has its tests.
        "CHAT_RATE_PER_SEC": "1000000",
        "CHAT_RATE_BURST": "1000000",
        "JWT_ACCESS_MINUTES": "1440",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }


def services_up() -> None:
    """Start Kafka and Redis with the repo's script if either is unreachable (never restart)."""

    def reachable(port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    if not (reachable(9092) and reachable(6379)):
        subprocess.run([sys.executable, "ops/services.py", "start"], check=True, cwd=ROOT)


def wait_for_services(timeout: float = 120.0) -> None:
    """After someone else restarted Kafka or Redis: wait until both answer, then a little more."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for port in (9092, 6379):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(1)
    time.sleep(5)


def service_pid(name: str) -> int | None:
    """The pid ops/services.py recorded for a service (its file: pid, start time, ports)."""
    import psutil

    try:
        pid = int((RUN_DIR / f"{name}.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if psutil.pid_exists(pid) else None


def web_argv(server: str, port: int) -> list[str]:
    """The Procfile's web process, or Uvicorn (measured beside it: docs/decisions/0005)."""
    if server == "daphne":
        return procfile.argv("web", env={"PORT": str(port)})
    if server == "uvicorn":
        # Its own access log off: the app writes one without query strings (zzalu.logs.AccessLog).
        return [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port),
                "--no-access-log", "--log-level", "warning", "zzalu.asgi:application"]  # fmt: skip
    raise ValueError(f"unknown server {server!r}")


class AppStack:
    """One web server process and one relay process on the run's database and namespace."""

    def __init__(self, *, server: str, layer: str, env: dict[str, str], log_dir: Path, tag: str):
        self.server, self.layer = server, layer
        self.port = free_port()
        child = {**os.environ, **env, "CHANNEL_LAYER_BACKEND": layer}
        self.web = Process(
            f"web-{tag}", web_argv(server, self.port), child, log_dir / f"web-{tag}.log"
        )
        relay = procfile.argv("relay", "--log-every", "10")
        self.relay = Process(f"relay-{tag}", relay, child, log_dir / f"relay-{tag}.log")

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> AppStack:
        self.relay.start()
        self.web.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for proc in (self.web, self.relay):
                if not proc.running:
                    raise RuntimeError(f"{proc.name} exited:\n{proc.log_tail()}")
            try:
                url = f"http://127.0.0.1:{self.port}/healthz"
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"web server did not answer /healthz:\n{self.web.log_tail()}")

    def stop(self) -> None:
        self.web.stop()
        self.relay.stop()

    def pids(self) -> dict[str, int | None]:
        return {
            "web": self.web.pid,
            "relay": self.relay.pid,
            "redis": service_pid("redis"),
            "kafka": service_pid("kafka"),
        }


class CpuMeter:
    """CPU seconds (user + system, all threads) of named processes, and of the whole machine."""

    def __init__(self, pids: dict[str, int | None]):
        import psutil

        self.procs = {name: psutil.Process(pid) for name, pid in pids.items() if pid}

    def sample(self) -> dict[str, float]:
        import psutil

        out = {}
        for name, proc in self.procs.items():
            try:
                t = proc.cpu_times()
                out[name] = t.user + t.system
            except psutil.Error:
                out[name] = float("nan")
        total = psutil.cpu_times()
        out["_machine_busy"] = sum(total) - total.idle - getattr(total, "iowait", 0.0)
        return out

    @staticmethod
    def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        d = {name: after[name] - before[name] for name in before if name in after}
        busy = d.pop("_machine_busy", 0.0)
        d["other"] = max(0.0, busy - sum(v for v in d.values() if v == v))
        return {name: round(v, 3) for name, v in d.items()}


def prepare_database(db_path: Path) -> None:
    """A fresh, migrated SQLite file for this run (copied from a migrated template)."""
    from django.core.management import call_command

    template = BENCH_LOCAL / "template.sqlite3"
    db_path.parent.mkdir(parents=True, exist_ok=True)
    if template.exists():
        shutil.copyfile(template, db_path)
    call_command("migrate", interactive=False, verbosity=0)
    if not template.exists():
        shutil.copyfile(db_path, template)


def cleanup(run_id: str) -> None:
    """Delete the run's topics, consumer group and Redis keys."""
    from django.conf import settings

    from zzalu.kafka import make_admin, topic_specs
    from zzalu.redis import get_redis

    try:
        admin = make_admin()
        try:
            existing = set(admin.list_topics())
            names = [name for name in topic_specs() if name in existing]
            if names:
                admin.delete_topics(names)
            try:
                admin.delete_consumer_groups([settings.KAFKA_RELAY_GROUP])
            except Exception:
                pass
        finally:
            admin.close()
    except Exception as exc:
        print(f"warning: could not delete the run's topics: {exc}", file=sys.stderr)
    redis = get_redis()
    for key in redis.scan_iter(f"{settings.REDIS_PREFIX}*", count=1000):
        redis.delete(key)


def environ_for_django(env: dict[str, str]) -> None:
    os.environ.update(env)
