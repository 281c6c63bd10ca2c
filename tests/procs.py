"""Processes the integration tests run for real: web servers (Uvicorn) and Kafka relays.

They share the test database with the test process (a file for SQLite, the ``test_`` database
for PostgreSQL) and inherit the session's topic prefix and Redis namespace.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import connection

from zzalu import procfile
from zzalu.procfile import Process, free_port

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    """The URL of the database the test run created, for child processes."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = f"{s['USER']}:{s['PASSWORD']}@" if s["USER"] else ""
    return f"postgres://{auth}{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def child_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "zzalu.settings.test",
            "DEBUG": "true",  # local development, asked for (the settings default is off)
            "DATABASE_URL": test_database_url(),
            "PYTHONUNBUFFERED": "1",
            # Heavy tests send thousands of messages per member; the limit has its own test.
            "CHAT_RATE_PER_SEC": "100000",
            "CHAT_RATE_BURST": "100000",
            # Every test socket comes from 127.0.0.1 and many share a member; the caps have
            # their own tests (tests/test_socket_limits.py).
            "SOCKET_LIMIT_PER_MEMBER": "100000",
            "SOCKET_LIMIT_ANONYMOUS_PER_ADDRESS": "100000",
            "SOCKET_HEARTBEAT_SECONDS": "2",
            "LOG_LEVEL": "INFO",
        }
    )
    env.update(overrides)
    return env


class Proc(Process):
    """A child process of the test run, its log in the run's folder."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]):
        super().__init__(name, argv, env, settings.TEST_RUN_DIR / f"{name}.log")


class HttpProc(Proc):
    """A process serving HTTP on ``self.port``; started once ``ready_path`` answers."""

    port: int
    ready_path = "/healthz"
    ready_within = 30.0

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> HttpProc:
        super().start()
        deadline = time.monotonic() + self.ready_within
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.http + self.ready_path, timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(
            f"{self.name} did not answer {self.ready_path} in {self.ready_within:.0f}s:\n"
            f"{self.log_tail()}"
        )


class WebServer(HttpProc):
    """The Procfile's web process, on a port of its own."""

    def __init__(self, name: str = "web", port: int | None = None, **env):
        self.port = port or free_port()
        super().__init__(name, procfile.argv("web", env={"PORT": str(self.port)}), child_env(**env))


class Worker(Proc):
    """A worker the Procfile declares (relay, sweeper), or another management command."""

    def __init__(self, name: str, *command: str, **env):
        if command[0] in procfile.declared():
            argv = procfile.argv(*command)
        else:
            argv = [sys.executable, "manage.py", *command]
        super().__init__(name, argv, child_env(**env))

    def start(self) -> Worker:
        super().start()
        time.sleep(0.3)
        if not self.running:
            raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
        return self


def Relay(name: str = "relay", **env) -> Worker:  # noqa: N802 - reads as a process kind
    port = free_port()  # each relay its own metrics port: several run at once in tests
    relay = Worker(name, "relay", "--log-every", "5", RELAY_METRICS_PORT=str(port), **env)
    relay.metrics_url = f"http://127.0.0.1:{port}/metrics"
    return relay


def Sweeper(name: str = "sweeper", **env) -> Worker:  # noqa: N802
    return Worker(name, "sweeper", **{"SWEEPER_METRICS_PORT": "0", **env})


def nginx_binary() -> Path:
    """Debian's nginx, unpacked (never installed) where ops/deploy_check.py keeps it."""
    spec = importlib.util.spec_from_file_location("debian", ROOT / "ops" / "debian.py")
    debian = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(debian)
    cache = ROOT / ".local" / "deploy-check"
    return debian.unpack("nginx", cache / "nginx", log=cache / "apt-nginx.log") / "usr/sbin/nginx"


class Nginx(HttpProc):
    """ops/nginx/nginx.conf, run for real in front of one upstream, on a port of its own.

    Only what ties the file to Docker changes: the listen port, the upstream address, paths
    of this machine, and its logs written to files of the test run.
    """

    ready_path = "/lb-healthz"
    ready_within = 10.0

    def __init__(self, name: str, upstream_port: int):
        self.port = free_port()
        self.access_log = settings.TEST_RUN_DIR / f"{name}-access.log"
        self.error_log = settings.TEST_RUN_DIR / f"{name}-error.log"
        prefix = settings.TEST_RUN_DIR / name
        (prefix / "tmp").mkdir(parents=True, exist_ok=True)
        (prefix / "tmp").chmod(0o777)  # workers run as nobody when the tests run as root
        (prefix / "mime.types").write_text("types {\n    text/html html;\n}\n")
        temp = " ".join(
            f"{kind}_temp_path {prefix}/tmp/{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        conf = (ROOT / "ops" / "nginx" / "nginx.conf").read_text()
        for old, new in [
            ("include /etc/nginx/mime.types;", f"include {prefix}/mime.types;"),
            ("\nhttp {", f"\nhttp {{\n    {temp}"),
            ("listen 80 default_server;", f"listen 127.0.0.1:{self.port} default_server;"),
            ("http://web:8000;", f"http://127.0.0.1:{upstream_port};"),
            ("access_log /dev/stdout", f"access_log {self.access_log}"),
            ("error_log /dev/stderr", f"error_log {self.error_log}"),
        ]:
            assert old in conf, f"ops/nginx/nginx.conf no longer has {old!r}"
            conf = conf.replace(old, new)
        (prefix / "nginx.conf").write_text(conf)
        argv = [str(nginx_binary()), "-p", f"{prefix}/", "-c", f"{prefix}/nginx.conf"]
        super().__init__(name, [*argv, "-g", f"pid {prefix}/nginx.pid; daemon off;"], {})
