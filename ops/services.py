#!/usr/bin/env python3
"""Apache Kafka (KRaft), Redis and PostgreSQL, run natively (no Docker) for development and tests.

    ops/services.py start|stop|restart|status [SERVICE ...]

SERVICE: kafka, redis (the default pair: single-node Kafka on 9092, Redis on 6379); postgres (our
own cluster on 5432, role and database zzalu); cluster (three Kafka nodes on 29092-29094, for
replication tests) or one node of it, cluster-1..3; browser (Debian's Chromium and Korean fonts,
installed only); all (every daemon). Only what is named is touched.

One sequence drives every daemon (Daemon and start/stop below): ours already? -> port taken by
someone else? (reuse it if it speaks the protocol, else refuse) -> prepare (install, config,
format) -> launch in its own session -> wait until it answers -> on failure stop what this call
launched. A daemon is ours when the pid recorded in .local/run/<name>.pid still runs with the
start time recorded beside it, so a reused pid is never signalled. State lives under .local/
(git-ignored; SERVICES_HOME moves it); the Kafka version is pinned in ops/kafka/VERSION.
Environment: KAFKA_PORT, KAFKA_CONTROLLER_PORT, REDIS_PORT, PG_PORT, PG_USER, PG_PASSWORD,
PG_DATABASE, PG_BIN, CLUSTER_PORTS, CLUSTER_CONTROLLER_PORTS, CLUSTER_FRESH=1 (start the cluster
from empty storage), STOP_TIMEOUT.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import debian
import kafka_metadata

ROOT = Path(__file__).resolve().parent.parent
LOCAL = Path(os.environ.get("SERVICES_HOME", ROOT / ".local")).resolve()
RUN, LOGS = LOCAL / "run", LOCAL / "log"
HOST = "127.0.0.1"
STOP_TIMEOUT = int(os.environ.get("STOP_TIMEOUT", "20"))
AS_ROOT = os.geteuid() == 0


class Failed(Exception):
    """A service could not be brought to the state asked for; the message says why."""


def say(message: str) -> None:
    print(f"[services] {message}", flush=True)


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return f"--- last lines of {path} ---\n" + "\n".join(text)


def port_open(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=1).close()
        return True
    except OSError:
        return False


def env_ports(name: str, default: str) -> list[int]:
    return [int(p) for p in os.environ.get(name, default).split()]


# --- one daemon -----------------------------------------------------------------------------


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks, or None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if stat[0] in "ZX" else stat[19]


@dataclass
class Daemon:
    """A long-running process of ours: how to prepare, run, probe and stop it."""

    name: str
    ports: list[int]  # the first is the one clients use
    argv: Callable[[], list[str]]
    answers: Callable[[], bool]  # speaks its protocol on ports[0]
    reusable: Callable[[], bool] | None = None  # someone else's serves us too (default: answers)
    prepare: Callable[[], None] = lambda: None
    after_ready: Callable[[], None] = lambda: None
    user: str | None = None  # run as (PostgreSQL refuses root)
    stop_signal: int = signal.SIGTERM
    thread_dump: bool = False  # a JVM: SIGQUIT writes its threads to the log before SIGKILL
    timeout: int = 60
    running_ports: list[int] = field(default_factory=list, init=False)

    @property
    def pid_file(self) -> Path:
        return RUN / f"{self.name}.pid"

    @property
    def log(self) -> Path:
        return LOGS / f"{self.name}.log"

    def pid(self) -> int | None:
        """Our running process, if any; a stale record is removed."""
        try:
            pid, started, *ports = self.pid_file.read_text().split()
        except (OSError, ValueError):
            return None
        if start_time(int(pid)) == started:
            self.running_ports = [int(p) for p in ports]
            return int(pid)
        say(f"{self.name}: removing stale pid file (pid {pid} is gone)")
        self.pid_file.unlink(missing_ok=True)
        return None

    def launch(self) -> int:
        for folder in (RUN, LOGS):
            folder.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            out.write(f"\n===== {time.strftime('%FT%T')} starting {self.name} =====\n".encode())
            out.flush()
            process = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # immune to the caller's Ctrl-C and SIGHUP
                user=self.user,
                group=self.user,
                extra_groups=[] if self.user else None,
                cwd=LOCAL,
            )
        started = start_time(process.pid)
        self.pid_file.write_text(f"{process.pid} {started} {' '.join(map(str, self.ports))}\n")
        return process.pid

    def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            taken = port_open(self.ports[0])
            say(
                f"{self.name}: not running" + (" (port served by another process)" if taken else "")
            )
            return
        say(f"{self.name}: stopping pid {pid}")
        os.kill(pid, self.stop_signal)
        if not wait(lambda: start_time(pid) is None, STOP_TIMEOUT):
            if self.thread_dump:
                os.kill(pid, signal.SIGQUIT)
                time.sleep(1)
            say(f"{self.name}: pid {pid} alive after {STOP_TIMEOUT}s, SIGKILL (log: {self.log})")
            os.kill(pid, signal.SIGKILL)
            if not wait(lambda: start_time(pid) is None, 10):
                raise Failed(f"{self.name}: pid {pid} survived SIGKILL")
        self.pid_file.unlink(missing_ok=True)
        for port in self.running_ports:
            if not wait(lambda port=port: not port_open(port), 5):
                say(f"{self.name}: port {port} still open after stop")
        say(f"{self.name}: stopped")

    def status(self) -> str:
        pid = self.pid()
        if pid is not None:
            state = "answering" if self.answers() else "not answering"
            ports = "/".join(map(str, self.running_ports))
            return f"{self.name}: running  pid={pid}  {HOST}:{ports}  {state}"
        if self.answers():
            return f"{self.name}: stopped (ours), but {HOST}:{self.ports[0]} is served by another"
        return f"{self.name}: stopped  port={self.ports[0]}"


def wait(condition: Callable[[], bool], timeout: float, every: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True


def start(daemons: list[Daemon], formed: Callable[[list[Daemon]], bool] = lambda ds: True) -> None:
    """Start what is not running (the sequence, written once), then wait for all to answer and
    for ``formed`` over the ones that run; stop what this call launched if that fails."""
    ours, todo = [], []
    for d in daemons:
        if d.pid() is not None:
            if d.running_ports != d.ports:
                raise Failed(f"{d.name}: already runs on ports {d.running_ports}; stop it first")
            ours.append(d)
        elif port_open(d.ports[0]):
            if not (d.reusable or d.answers)():
                raise Failed(f"{d.name}: port {d.ports[0]} is in use by something else; free it")
            say(f"{d.name}: port {d.ports[0]} is served by a process we did not start: reusing it")
        elif taken := [p for p in d.ports[1:] if port_open(p)]:
            raise Failed(f"{d.name}: port {taken[0]} is in use by something else; free it")
        else:
            todo.append(d)
    for d in todo:
        d.prepare()
    launched = {d.name: d.launch() for d in todo}
    for d in todo:
        say(f"{d.name}: started pid {launched[d.name]} on {HOST}:{d.ports[0]}")
    running = ours + todo
    if not running:  # all served by processes we did not start
        return
    timeout = max(d.timeout for d in running)

    def ready() -> bool:
        for d in running:
            if d.pid() is None:
                raise Failed(f"{d.name}: exited during start\n{tail(d.log)}")
        return all(d.answers() for d in running) and formed(running)

    try:
        if not wait(ready, timeout, every=0.5):
            logs = "\n".join(tail(d.log) for d in running)
            raise Failed(f"{', '.join(d.name for d in running)}: not ready in {timeout}s\n{logs}")
        for d in running:
            d.after_ready()
    except Failed:
        for d in todo:
            if d.pid() is not None:
                d.stop()
        raise
    for d in running:
        say(f"{d.name}: ready on {HOST}:{d.ports[0]}" + (" (was running)" if d in ours else ""))


def stop(daemons: list[Daemon]) -> None:
    """Stop together: a Kafka node stopped last alone would wait for a quorum that has left."""
    with ThreadPoolExecutor(max(1, len(daemons))) as pool:
        list(pool.map(Daemon.stop, daemons))


# --- Kafka: a cluster of one (kafka) or of three (cluster) -----------------------------------

KAFKA_VERSION = (ROOT / "ops" / "kafka" / "VERSION").read_text().strip()
KAFKA_LIBS = ROOT / ".local" / "kafka" / "libs"  # a download cache, shared by every SERVICES_HOME
SMALL_JVM = "-server -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError"

# Every node is broker and controller, in a static quorum (controller.quorum.voters).
KAFKA_PROPERTIES = """\
# Generated by ops/services.py on every start.
process.roles=broker,controller
node.id={node}
controller.quorum.voters={voters}
listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller}
advertised.listeners=PLAINTEXT://{host}:{port}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data}
num.partitions=1
auto.create.topics.enable=false
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
unclean.leader.election.enable=false
num.network.threads=2
num.recovery.threads.per.data.dir=1
default.replication.factor={copies}
min.insync.replicas={in_sync}
offsets.topic.replication.factor={copies}
transaction.state.log.replication.factor={copies}
transaction.state.log.min.isr={in_sync}
share.coordinator.state.topic.replication.factor={copies}
share.coordinator.state.topic.min.isr={in_sync}
"""


@dataclass
class KafkaCluster:
    name: str
    ports: list[int]
    controller_ports: list[int]
    heap: str
    jvm: str
    properties: str  # beyond KAFKA_PROPERTIES

    @property
    def home(self) -> Path:
        return LOCAL / self.name

    def node_name(self, n: int) -> str:
        return self.name if len(self.ports) == 1 else f"{self.name}-{n}"

    def voters(self) -> str:
        return ",".join(f"{n}@{HOST}:{p}" for n, p in enumerate(self.controller_ports, 1))

    def java(self, node_dir: Path, heap: str | None = None) -> list[str]:
        log4j = ROOT / "ops" / "kafka" / "log4j2.xml"
        return [
            "java",
            *(heap or self.heap).split(),
            *self.jvm.split(),
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            f"-Dkafka.logs.dir={node_dir / 'logs'}",
            "-cp",
            f"{KAFKA_LIBS}/*",
        ]

    def node(self, n: int) -> Daemon:
        node_dir = self.home / f"node-{n}"
        port, controller = self.ports[n - 1], self.controller_ports[n - 1]
        props = node_dir / "server.properties"

        def prepare() -> None:
            kafka_libs()
            (node_dir / "logs").mkdir(parents=True, exist_ok=True)
            copies = len(self.ports)
            config = KAFKA_PROPERTIES.format(
                node=n, voters=self.voters(), host=HOST, port=port, controller=controller,
                data=node_dir / "data", copies=copies, in_sync=copies // 2 + 1,
            )  # fmt: skip
            props.write_text(config + self.properties)
            if not (node_dir / "data" / "meta.properties").exists():
                # A static quorum (controller.quorum.voters), formatted alike on every node.
                run(self.name, [*self.java(node_dir, "-Xmx128m"), "kafka.tools.StorageTool",
                                "format", "-t", self.cluster_id(), "-c", str(props)])  # fmt: skip

        return Daemon(
            name=self.node_name(n),
            ports=[port, controller],
            argv=lambda: [*self.java(node_dir), "kafka.Kafka", str(props)],
            answers=lambda: brokers([port]) is not None,
            prepare=prepare,
            thread_dump=True,
            timeout=150 if len(self.ports) > 1 else 90,
        )

    def cluster_id(self) -> str:
        id_file = self.home / "cluster.id"
        if not id_file.exists():
            out = run(self.name, [*self.java(self.home, "-Xmx128m"), "kafka.tools.StorageTool",
                                  "random-uuid"])  # fmt: skip
            id_file.write_text(out.split()[-1])
        return id_file.read_text().strip()

    def nodes(self, which: list[int] | None = None) -> list[Daemon]:
        return [self.node(n) for n in which or range(1, len(self.ports) + 1)]

    def formed(self, _started: list[Daemon]) -> bool:
        """Every node of ours that runs is registered and unfenced with the controller."""
        running = [n for n, d in enumerate(self.nodes(), 1) if d.pid() is not None]
        return brokers([self.ports[n - 1] for n in running]) == running

    def start(self, which: list[int] | None = None) -> None:
        nodes, everyone = self.nodes(which), self.nodes()
        fresh = which is None and os.environ.get("CLUSTER_FRESH") == "1"
        if fresh and not any(d.pid() for d in everyone):
            say(f"{self.name}: CLUSTER_FRESH=1, starting from empty storage")
            for node_dir in self.home.glob("node-*"):
                shutil.rmtree(node_dir)
            (self.home / "cluster.id").unlink(missing_ok=True)
        quorum = len(everyone) // 2 + 1
        up = {d.name for d in everyone if d.pid()} | {d.name for d in nodes}
        if len(up) < quorum:
            raise Failed(f"{self.name}: the KRaft quorum needs {quorum} nodes; start `{self.name}`")
        start(nodes, self.formed)


def brokers(ports: list[int]) -> list[int] | None:
    """The node ids the cluster lists, asked of the first port that answers."""
    for port in ports:
        try:
            return kafka_metadata.metadata(HOST, port, timeout=3)[0]
        except (OSError, ValueError):
            continue
    return None


def run(name: str, argv: list[str], **kwargs) -> str:
    """A setup command; its output goes to the service's setup log and is shown on failure."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{name}-setup.log"
    result = subprocess.run(
        argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kwargs
    )
    with open(log, "a") as out:
        out.write(f"$ {' '.join(argv)}\n{result.stdout}{result.stderr}")
    if result.returncode != 0:
        raise Failed(f"{name}: `{argv[0]}` failed\n{tail(log)}")
    return result.stdout


@contextmanager
def lock(name: str):
    """One services.py at a time per service; another one waits here."""
    RUN.mkdir(parents=True, exist_ok=True)
    with open(RUN / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def kafka_libs() -> None:
    """The broker's jars, resolved once by Maven from ops/kafka/pom.xml (~/.m2 caches them)."""
    if (KAFKA_LIBS / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
        return
    with lock("kafka-libs"):
        if (KAFKA_LIBS / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
            return
        if not shutil.which("java"):
            debian.install("openjdk-17-jre-headless", log=LOGS / "apt.log")
        if not shutil.which("mvn"):
            debian.install("maven", log=LOGS / "apt.log")
        say(f"kafka: resolving org.apache.kafka:kafka_2.13:{KAFKA_VERSION} with Maven ...")
        partial = KAFKA_LIBS.with_name("libs.partial")
        shutil.rmtree(partial, ignore_errors=True)
        run("kafka", ["mvn", "-B", "-q", "-f", str(ROOT / "ops" / "kafka" / "pom.xml"),
                      f"-Dkafka.version={KAFKA_VERSION}", "dependency:copy-dependencies",
                      "-DincludeScope=runtime", f"-DoutputDirectory={partial}"])  # fmt: skip
        shutil.rmtree(KAFKA_LIBS, ignore_errors=True)
        partial.rename(KAFKA_LIBS)


KAFKA = KafkaCluster(
    name="kafka",
    ports=env_ports("KAFKA_PORT", "9092"),
    controller_ports=env_ports("KAFKA_CONTROLLER_PORT", "9093"),
    heap="-Xms256m -Xmx512m",
    jvm="-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20",
    properties="num.io.threads=4\nlog.retention.hours=168\n",
)
CLUSTER = KafkaCluster(
    name="cluster",
    ports=env_ports("CLUSTER_PORTS", "29092 29093 29094"),
    controller_ports=env_ports("CLUSTER_CONTROLLER_PORTS", "29192 29193 29194"),
    # Three JVMs share two cores with the single node and the tests: small and quick to start.
    heap="-Xms128m -Xmx256m",
    jvm=SMALL_JVM,
    properties="""\
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10
num.io.threads=2
background.threads=2
num.replica.fetchers=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
log.retention.hours=24
""",
)


# --- Redis ----------------------------------------------------------------------------------


def redis() -> Daemon:
    port = env_ports("REDIS_PORT", "6379")[0]

    def answers() -> bool:
        try:
            with socket.create_connection((HOST, port), timeout=2) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def prepare() -> None:
        if not shutil.which("redis-server"):
            debian.install("redis-server", log=LOGS / "apt.log")
        (LOCAL / "redis").mkdir(parents=True, exist_ok=True)

    # Configuration from the command line only (not Debian's /etc/redis), nothing persisted.
    return Daemon(
        name="redis",
        ports=[port],
        argv=lambda: [
            "redis-server",
            *f"--bind {HOST} --port {port} --dir {LOCAL / 'redis'} --appendonly no".split(),
            *("--save", ""),
        ],
        answers=answers,
        prepare=prepare,
        timeout=15,
    )


# --- PostgreSQL: our own cluster with Debian's binaries, never the package's `main` one -------

PG_USER = os.environ.get("PG_USER", "zzalu")
PG_PASSWORD = os.environ.get("PG_PASSWORD", "zzalu")
PG_DATABASE = os.environ.get("PG_DATABASE", "zzalu")


def pg_bin() -> Path | None:
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def postgres() -> Daemon:
    port = env_ports("PG_PORT", "5432")[0]
    data, sockets = LOCAL / "postgres" / "data", RUN / "postgres"
    user = "postgres" if AS_ROOT else None  # initdb and postgres refuse to run as root

    def psql(*args: str, password: bool = False) -> subprocess.CompletedProcess:
        env = {**os.environ, "PGPASSWORD": PG_PASSWORD, "PGCONNECT_TIMEOUT": "5"}
        argv = [str(pg_bin() / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", *args]
        as_user = None if password else user
        return subprocess.run(argv, capture_output=True, text=True, env=env, user=as_user, cwd="/")

    def app_login() -> bool:
        args = ["-h", HOST, "-p", str(port), "-U", PG_USER, "-d", PG_DATABASE, "-c", "select 1"]
        return pg_bin() is not None and psql(*args, password=True).stdout.strip() == "1"

    def answers() -> bool:
        probe = [str(pg_bin() / "pg_isready"), "-q", "-h", HOST, "-p", str(port), "-t", "2"]
        return pg_bin() is not None and subprocess.run(probe).returncode == 0

    def prepare() -> None:
        if pg_bin() is None:
            debian.install("postgresql", log=LOGS / "apt.log")
        if not re.fullmatch(r"[A-Za-z0-9._~-]+", PG_PASSWORD):  # spliced into SQL and URLs
            raise Failed("PG_PASSWORD may only contain A-Z a-z 0-9 . _ ~ -")
        for path in (data.parent, sockets):
            path.mkdir(parents=True, exist_ok=True)
            if user:
                shutil.chown(path, user, user)
        if not (data / "PG_VERSION").exists():
            run("postgres", [str(pg_bin() / "initdb"), "-D", str(data), "--encoding=UTF8",
                             "--locale=C.UTF-8", "--auth-local=peer",
                             "--auth-host=scram-sha-256"], user=user, cwd="/")  # fmt: skip

    def provision() -> None:
        """The app's role (superuser: tests create test_ databases) and database."""
        if app_login():
            return
        sql = (
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PG_USER}') THEN "
            f"CREATE ROLE {PG_USER}; END IF; END $$;"
            f"ALTER ROLE {PG_USER} LOGIN SUPERUSER PASSWORD '{PG_PASSWORD}';"
        )
        on_socket = ["-h", str(sockets), "-p", str(port), "-d", "postgres"]
        for step in (sql, f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'"):
            done = psql(*on_socket, "-c", step)
            if done.returncode:
                raise Failed(f"postgres: {done.stderr}")
        if done.stdout.strip() != "1":
            psql(*on_socket, "-c", f"CREATE DATABASE {PG_DATABASE} OWNER {PG_USER}")
        if not app_login():
            raise Failed(f"postgres: role {PG_USER} cannot log in over TCP")

    # Settings on the command line (no config file to keep in step): a throwaway test database,
    # durability off for speed.
    settings = (
        f"port={port} listen_addresses={HOST} unix_socket_directories={sockets} timezone=UTC "
        "max_connections=200 fsync=off synchronous_commit=off full_page_writes=off "
        "log_min_messages=warning"
    )
    return Daemon(
        name="postgres",
        ports=[port],
        argv=lambda: [
            str(pg_bin() / "postgres"),
            *("-D", str(data)),
            *(arg for setting in settings.split() for arg in ("-c", setting)),
        ],
        answers=answers,
        reusable=app_login,
        prepare=prepare,
        after_ready=provision,
        user=user,
        stop_signal=signal.SIGINT,  # fast shutdown: SIGTERM would wait for every client
    )


# --- the table ------------------------------------------------------------------------------

DEFAULT = ["kafka", "redis"]
EVERYTHING = ["redis", "kafka", "postgres", "cluster"]
BROWSER = ("chromium", "fonts-noto-cjk")  # Playwright drives Debian's Chromium; Hangul fonts


def act(action: str, target: str) -> None:
    if target == "browser":
        if action in ("start", "restart"):
            debian.install(*BROWSER, log=LOGS / "apt.log")
        if action == "status":
            ok = Path("/usr/bin/chromium").exists()
            print(f"browser: {'installed' if ok else 'not installed'} (/usr/bin/chromium)")
        return
    if target == "cluster" or target.startswith("cluster-"):
        which = None if target == "cluster" else [int(target.partition("-")[2])]
        group, daemons = CLUSTER, CLUSTER.nodes(which)
    elif target == "kafka":
        group, daemons = KAFKA, KAFKA.nodes()
    elif target in ("redis", "postgres"):
        group, daemons = None, [redis() if target == "redis" else postgres()]
    else:
        raise Failed(f"unknown service {target!r}; see ops/services.py --help")
    if action == "status":
        for d in daemons:
            print(d.status())
        return
    with lock(target.partition("-")[0]):
        if action in ("stop", "restart"):
            stop(daemons)
        if action in ("start", "restart"):
            if group:
                group.start(which if group is CLUSTER else None)
            else:
                start(daemons)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("start", "stop", "restart", "status"):
        print(__doc__, file=sys.stderr if argv[:1] not in (["-h"], ["--help"]) else sys.stdout)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    action, targets = argv[0], argv[1:] or DEFAULT
    if targets == ["all"]:
        targets = EVERYTHING if action != "stop" else EVERYTHING[::-1]
    failed = False
    for target in targets:
        try:
            act(action, target)
        except Failed as exc:
            print(f"[services] ERROR: {exc}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
