"""ops/services.py as a user meets it: start is idempotent, a port someone else holds is refused,
stop leaves nothing of ours. Each test runs its own Redis on a free port with its state in a
folder of its own (SERVICES_HOME), beside the suite's services, which it never touches."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .procs import ROOT, free_port

# Each test starts a Redis of its own through ops/services.py.
pytestmark = pytest.mark.services


def services(home, action: str, *names: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "ops" / "services.py"), action, *names],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SERVICES_HOME": str(home), **env},
    )


def recorded_pid(home, name: str) -> int:
    return int((home / "run" / f"{name}.pid").read_text().split()[0])


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for pid 1 to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in "ZX"


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def redis_port(tmp_path):
    port = free_port()
    yield port
    services(tmp_path, "stop", "redis", REDIS_PORT=str(port))


def test_start_twice_reuses_the_running_redis_and_stop_leaves_nothing(tmp_path, redis_port):
    env = {"REDIS_PORT": str(redis_port)}
    first = services(tmp_path, "start", "redis", **env)
    assert first.returncode == 0, first.stdout + first.stderr
    pid = recorded_pid(tmp_path, "redis")
    assert alive(pid) and port_open(redis_port)

    again = services(tmp_path, "start", "redis", **env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "was running" in again.stdout
    assert recorded_pid(tmp_path, "redis") == pid  # the same process, not a second one

    status = services(tmp_path, "status", "redis", **env)
    assert f"pid={pid}" in status.stdout and "answering" in status.stdout

    stopped = services(tmp_path, "stop", "redis", **env)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not alive(pid)
    assert not port_open(redis_port)
    assert not (tmp_path / "run" / "redis.pid").exists()
    assert "stopped" in services(tmp_path, "status", "redis", **env).stdout


@pytest.mark.parametrize(
    ("name", "port_variable"),
    [("redis", "REDIS_PORT"), ("kafka", "KAFKA_PORT"), ("postgres", "PG_PORT")],
)
def test_a_port_held_by_something_else_is_refused_and_left_alone(tmp_path, name, port_variable):
    with socket.socket() as squatter:  # listens, never answers a protocol
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        env = {port_variable: str(port), "KAFKA_CONTROLLER_PORT": str(free_port())}
        refused = services(tmp_path, "start", name, **env)
        assert refused.returncode == 1
        assert f"port {port} is in use by something else" in refused.stderr
        assert not (tmp_path / "run" / f"{name}.pid").exists()

        # Stop is not theirs to do either: the squatter keeps its port.
        assert services(tmp_path, "stop", name, **env).returncode == 0
        assert port_open(port)


def test_a_stale_pid_file_is_not_taken_for_ours(tmp_path, redis_port):
    """A recorded pid now used by another process (here: this test) is never signalled."""
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "redis.pid").write_text(f"{os.getpid()} 1 {redis_port}\n")
    stopped = services(tmp_path, "stop", "redis", REDIS_PORT=str(redis_port))
    assert stopped.returncode == 0
    assert "stale" in stopped.stdout
    assert not (tmp_path / "run" / "redis.pid").exists()


def test_a_redis_someone_else_runs_is_reused_not_restarted(tmp_path, redis_port):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    env = {"REDIS_PORT": str(redis_port)}
    assert services(theirs, "start", "redis", **env).returncode == 0
    pid = recorded_pid(theirs, "redis")
    try:
        reused = services(ours, "start", "redis", **env)
        assert reused.returncode == 0, reused.stdout + reused.stderr
        assert "did not start: reusing it" in reused.stdout
        assert not (ours / "run" / "redis.pid").exists()
        assert services(ours, "stop", "redis", **env).returncode == 0
        assert alive(pid)  # not ours to stop
    finally:
        services(theirs, "stop", "redis", **env)
