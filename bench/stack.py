"""The real stack for the benchmark: its own database, topics and Redis namespace, real processes.

Kafka and Redis are the ones ``ops/services.py`` runs (reused, started only if unreachable; never
stopped). The web server (the Procfile's Daphne, or Uvicorn; one process or several sharing a
port) and the relay (the Procfile's) are started here with the benchmark's environment, exactly
as they run in production, and stopped at the end; so is the floor arm's raw broadcast server
(bench/floor.py). Nothing of a benchmark run is left behind in Kafka or Redis.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from contextlib import closing
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


def web_argv(server: str, port: int, fd: int | None = None, procs: int = 1) -> list[str]:
    """The web process: ``procfile`` is the Procfile's line as ``make run`` serves it (its own
    port); ``daphne`` and ``uvicorn`` are the bench's own command lines (docs/decisions/0005),
    on a port or on a listening socket handed down as ``fd``."""
    if server == "procfile":
        return procfile.argv("web", env={"PORT": str(port), "WEB_CONCURRENCY": str(procs)})
    where = {
        "daphne": ["-b", "127.0.0.1", "-p", str(port)],
        "uvicorn": ["--host", "127.0.0.1", "--port", str(port)],
    }
    if server not in where:
        raise ValueError(f"unknown server {server!r}")
    where = where[server] if fd is None else ["--fd", str(fd)]
    if server == "daphne":
        return [str(Path(sys.executable).parent / "daphne"), "--verbosity", "0", *where,
                "zzalu.asgi:application"]  # fmt: skip
    # Its own access log off: the app writes one without query strings (zzalu.logs.AccessLog).
    return [sys.executable, "-m", "uvicorn", *where, "--no-access-log",
            "--log-level", "warning", "zzalu.asgi:application"]  # fmt: skip


def listening_socket(port: int = 0, *, reuseport: bool = False) -> socket.socket:
    """A listening socket to hand to server processes (``pass_fds``): loopback, backlog 2048,
    TCP_NODELAY (accepted sockets inherit it on Linux, whatever the server does)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(2048)
    return sock


def listening_inodes(port: int) -> set[str]:
    """The sockets listening on ``port`` (IPv4), as /proc/<pid>/fd links name them."""
    out = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
            out.add(f"socket:[{f[9]}]")
    return out


def polls(pid: int, inodes: set[str]) -> bool:
    """Whether process ``pid`` waits on one of these sockets in an epoll set (it accepts)."""
    try:
        infos = list(Path(f"/proc/{pid}/fdinfo").iterdir())
    except OSError:
        return False
    for info in infos:
        try:
            lines = info.read_text().splitlines()
            targets = [line.split()[1] for line in lines if line.startswith("tfd:")]
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in targets):
                return True
        except OSError:
            continue
    return False


class FdProcess(Process):
    """A Process that inherits listening sockets (their fds, for ``--fd``)."""

    def __init__(self, *args, fds: tuple[int, ...] = ()):
        super().__init__(*args)
        self.fds = fds

    def start(self) -> FdProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=self.fds,
            )
        return self


class AppStack:
    """The web server process(es), the relay and, for the floor arm, the raw broadcast server.

    The Procfile's line binds its own port, and for several web processes (``web_procs``) gets
    WEB_CONCURRENCY (its server runs and spreads the workers itself, as ``make run`` would).
    The bench's own daphne and uvicorn lines get a listening socket the bench binds (backlog
    2048 for both: Twisted's own is 50, too shallow for a join storm), the server-agnostic way
    for several: every process accepts on the one socket (``--fd``, ``share="fd"``), or each
    on its own SO_REUSEPORT socket on that port (``share="reuseport"``: the kernel spreads the
    connections evenly).
    """

    def __init__(
        self,
        *,
        server: str,
        layer: str,
        env: dict[str, str],
        log_dir: Path,
        tag: str,
        web_procs: int = 1,
        share: str = "fd",
        floor: bool = False,
    ):
        self.server, self.layer, self.web_procs, self.share = server, layer, web_procs, share
        child = {**os.environ, **env, "CHANNEL_LAYER_BACKEND": layer}
        self.sockets: list[socket.socket] = []
        if server == "procfile":
            if web_procs > 1 and "WEB_CONCURRENCY" not in procfile.declared()["web"]:
                raise SystemExit(
                    "the Procfile's web line runs one process (no WEB_CONCURRENCY): "
                    "use --server daphne or uvicorn for --web-procs > 1"
                )
            self.port = free_port()
            argv = web_argv(server, self.port, procs=web_procs)
            env = {**child, "WEB_CONCURRENCY": str(web_procs)}
            self.webs = [Process(f"web-{tag}", argv, env, log_dir / f"web-{tag}.log")]
        else:
            first = listening_socket(reuseport=share == "reuseport")
            self.port = first.getsockname()[1]
            self.sockets = [first]
            if share == "reuseport":
                more = [listening_socket(self.port, reuseport=True) for _ in range(web_procs - 1)]
                self.sockets += more
            self.webs = []
            for i in range(web_procs):
                fd = self.sockets[i % len(self.sockets)].fileno()
                name = f"web-{tag}-{i}"
                argv = web_argv(server, self.port, fd)
                self.webs.append(FdProcess(name, argv, child, log_dir / f"{name}.log", fds=(fd,)))
        relay = procfile.argv("relay", "--log-every", "10")
        self.relay = Process(f"relay-{tag}", relay, child, log_dir / f"relay-{tag}.log")
        self.floor = None
        if floor:
            self.floor_port = free_port()
            argv = [sys.executable, "-m", "bench.floor", "--port", str(self.floor_port)]
            self.floor = Process(f"floor-{tag}", argv, child, log_dir / f"floor-{tag}.log")

    @property
    def web(self) -> Process:
        return self.webs[0]

    @property
    def processes(self) -> list[Process]:
        return [*self.webs, self.relay, *([self.floor] if self.floor else [])]

    def ws(self, arm: str) -> str:
        port = self.floor_port if arm == "floor" else self.port
        return f"ws://127.0.0.1:{port}"

    def start(self) -> AppStack:
        for proc in self.processes:
            proc.start()
        deadline = time.monotonic() + 60
        try:
            while not self._ready():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"web server not ready:\n{self.web.log_tail()}")
                time.sleep(0.2)
        except BaseException:
            self.stop()  # nothing left running behind a failed start
            raise
        return self

    def _ready(self) -> bool:
        for proc in self.processes:
            if not proc.running:
                raise RuntimeError(f"{proc.name} exited:\n{proc.log_tail()}")
        try:
            url = f"http://127.0.0.1:{self.port}/healthz"
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status != 200:
                    return False
            if self.floor:
                socket.create_connection(("127.0.0.1", self.floor_port), timeout=1).close()
        except OSError:
            return False
        # Every process must be accepting before the first client comes, or the first up
        # takes every connection.
        return len(self.serving()) == self.web_procs

    def serving(self) -> list[int]:
        """The web processes (or their workers) that accept connections on the port."""
        import psutil

        inodes = listening_inodes(self.port)
        pids = []
        for proc in self.webs:
            try:
                tree = [proc.pid, *(p.pid for p in psutil.Process(proc.pid).children(True))]
            except psutil.Error:
                continue
            pids += [pid for pid in tree if polls(pid, inodes)]
        return pids

    def stop(self) -> None:
        for proc in self.processes:
            proc.stop()
        for sock in self.sockets:
            sock.close()

    @property
    def running(self) -> bool:
        return all(proc.running for proc in self.webs)

    def pids(self, arm: str) -> dict[str, list[int] | int | None]:
        """The processes whose CPU a step of ``arm`` is charged: its web process(es) and their
        workers (the floor server for the floor arm), the relay (the others) and the services."""
        import psutil

        services = {"redis": service_pid("redis"), "kafka": service_pid("kafka")}
        if arm == "floor":
            return {"web": [self.floor.pid], **services}
        web = [p.pid for p in self.webs]
        web += [c.pid for pid in web for c in psutil.Process(pid).children(recursive=True)]
        return {"web": web, "relay": self.relay.pid, **services}

    def connections(self) -> list[int]:
        """Established connections on the port, per accepting process (how evenly they spread)."""
        import psutil

        counts = []
        for pid in self.serving():
            conns = psutil.Process(pid).net_connections(kind="tcp")
            counts.append(
                sum(1 for c in conns if c.status == "ESTABLISHED" and c.laddr.port == self.port)
            )
        return counts


class CpuMeter:
    """CPU seconds (user + system, all threads) of named processes, and of the whole machine."""

    def __init__(self, pids: dict[str, list[int] | int | None]):
        import psutil

        self.procs = {
            name: [psutil.Process(p) for p in (pid if isinstance(pid, list) else [pid])]
            for name, pid in pids.items()
            if pid
        }

    def sample(self) -> dict[str, float]:
        import psutil

        out = {}
        for name, procs in self.procs.items():  # a name's processes added up
            try:
                out[name] = sum(t.user + t.system for t in (p.cpu_times() for p in procs))
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
        shutil.copyfile(template, db_path)  # before this process opens it
    call_command("migrate", interactive=False, verbosity=0)
    if not template.exists():
        # Through SQLite's backup API, not a file copy: the database is in WAL mode (a copy of
        # the file misses what is still in its WAL), and opening and closing the file beside
        # Django's open connection would drop that connection's locks (a process's POSIX locks
        # on a file go with any descriptor of it it closes) — then a web process or the relay
        # closing last checkpoints the WAL away under it: "database disk image is malformed".
        with closing(sqlite3.connect(db_path)) as source, closing(sqlite3.connect(template)) as to:
            source.backup(to)


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
