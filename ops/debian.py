"""Debian packages, the one way: install what is missing, or unpack a .deb without installing it.

Standard library only: the scripts beside it (``python3 ops/x.py``) ``import debian``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path

# Not root: a sudo that fails at once rather than waiting for a password nobody will type.
SUDO = [] if os.geteuid() == 0 else ["sudo", "-n"]
# Waits for another apt-get or dpkg (a second script, unattended-upgrades) to release the lock.
APT = [*SUDO, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-q", "-oDPkg::Lock::Timeout=300"]
POLICY = Path("/usr/sbin/policy-rc.d")
_updated = False


def installed(package: str) -> bool:
    query = ["dpkg-query", "-W", "-f=${Status}", package]
    return subprocess.run(query, capture_output=True, text=True).stdout.endswith(" installed")


def install(*packages: str, log: Path) -> None:
    """Install those of ``packages`` that are not installed yet; apt's output goes to ``log``."""
    missing = [package for package in packages if not installed(package)]
    if not missing:
        return
    print(f"installing {' '.join(missing)} (apt-get; log: {log})", flush=True)
    # No package (redis-server, postgresql) may start a daemon of its own on the ports our
    # services use. A policy already there (Docker images ship one) is left as it is.
    if ours := not POLICY.exists():
        policy = f"printf '#!/bin/sh\\nexit 101\\n' >{POLICY}; chmod 755 {POLICY}"
        _run([*SUDO, "sh", "-c", policy], log)
    try:
        _update(log)
        # A config file changed here keeps its local version instead of asking.
        keep = ["-oDpkg::Options::=--force-confdef", "-oDpkg::Options::=--force-confold"]
        _run([*APT, "install", "-y", "--no-install-recommends", *keep, *missing], log)
    finally:
        if ours:
            subprocess.run([*SUDO, "rm", "-f", str(POLICY)], check=False)


def unpack(package: str, dest: Path, log: Path) -> Path:
    """Debian's ``package`` extracted into ``dest`` (dest/usr/...): never installed, no root."""
    if dest.is_dir() and any(dest.iterdir()):
        return dest
    print(f"unpacking Debian's {package} into {dest} (apt-get download; not installed)", flush=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        download = ["apt-get", "download", package]
        try:
            _run(download, log, cwd=tmp)
        except SystemExit:  # no package lists yet, or stale ones: refresh them, then once more
            _update(log)
            _run(download, log, cwd=tmp)
        (deb,) = Path(tmp).glob("*.deb")
        _run(["dpkg-deb", "-x", str(deb), f"{tmp}/root"], log)
        # Moved into place whole: an interrupted extraction never passes for a finished one.
        Path(tmp, "root").rename(dest)
    return dest


def _update(log: Path) -> None:
    global _updated  # once per process: each run downloads the package lists again
    if not _updated:
        _run([*APT, "update"], log)
        _updated = True


def _run(command: list[str], log: Path, cwd: str | None = None) -> None:
    """Run with output appended to ``log``; on failure exit with its tail and the command."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        print(f"$ {shlex.join(command)}", file=out, flush=True)
        try:
            done = subprocess.run(
                command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )
        except OSError as error:  # no apt-get (not Debian), no sudo
            raise SystemExit(f"cannot run {shlex.join(command)}: {error}") from None
    if done.returncode:
        tail = "".join(f"    | {line}\n" for line in log.read_text().splitlines()[-15:])
        raise SystemExit(f"{tail}failed, full log in {log}; by hand: {shlex.join(command)}")
