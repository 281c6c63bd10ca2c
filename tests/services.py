"""Drive the repo's own service scripts from tests (stop/start the broker, restart Redis)."""

import os
import subprocess
import sys

from .procs import ROOT


def service(action: str, name: str, **env: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "ops" / "services.py"), action, name],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, **env},
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"ops/services.py {action} {name} failed:\n{result.stdout}{result.stderr}"
        )
