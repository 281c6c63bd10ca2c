"""The app's processes as the Procfile declares them, as argv lists for tests and the benchmark.

``make run`` hands the Procfile to honcho, which runs each line in a shell. Here the same line is
expanded (``${VAR}`` and ``${VAR:-default}`` from the given environment, as the shell would) and
split, and ``python`` or a console script is resolved in the running interpreter's environment,
so a child runs exactly what honcho and compose run. Standard library only: ops scripts use it.
"""

from __future__ import annotations

import re
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path

PROCFILE = Path(__file__).resolve().parent.parent / "Procfile"
_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)")


@cache
def declared(path: Path = PROCFILE) -> dict[str, str]:
    """Process name -> command line, in the file's order."""
    entries = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = command.strip()
    return entries


def expand(command: str, env: Mapping[str, str]) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(3)
        return env.get(name) or (match.group(2) or "")

    return _VARIABLE.sub(value, command)


def argv(name: str, *extra: str, env: Mapping[str, str] | None = None) -> list[str]:
    """The declared command of process ``name`` (plus ``extra`` arguments), ready for Popen."""
    words = shlex.split(expand(declared()[name], env or {}))
    program = words[0]
    if program == "python":
        words[0] = sys.executable
    elif (script := Path(sys.executable).parent / program).exists():
        words[0] = str(script)
    return [*words, *extra]


def free_port() -> int:
    """A port nothing listens on now, for a process to serve on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """One child process with its output appended to a log file; restartable. Tests and the
    benchmark run the app's processes with it."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log_path: Path):
        self.name, self.argv, self.env, self.log_path = name, argv, dict(env), log_path
        self.popen: subprocess.Popen | None = None

    def start(self) -> Process:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.argv, cwd=PROCFILE.parent, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.running:
            self.popen.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything."""
        if self.running:
            self.popen.kill()
            self.popen.wait(10)

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM and wait; a process that ignores it is killed and reported."""
        if not self.running:
            return self.popen.returncode if self.popen else None
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)
            raise TimeoutError(f"{self.name} ignored SIGTERM for {timeout}s") from None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""
