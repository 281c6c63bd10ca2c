"""The Docker deployment files are valid and run the processes the Procfile declares.

``ops/deploy_check.py`` needs no Docker engine: it installs what it lacks (Debian's
docker-compose, check-jsonschema, Debian's nginx binary) and fails, never skips.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(900)  # a first run may apt-get install and pip install
def test_deploy_check_passes():
    result = subprocess.run(
        [sys.executable, str(ROOT / "ops" / "deploy_check.py")],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=850,
    )
    assert result.returncode == 0, (
        f"ops/deploy_check.py exited {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )


def test_compose_runs_the_kafka_version_pinned_in_ops():
    pinned = (ROOT / "ops" / "kafka" / "VERSION").read_text().strip()
    compose = (ROOT / "docker-compose.yml").read_text()
    tags = re.findall(r"^\s*image:\s*[\"']?apache/kafka:([^\s\"']+)", compose, re.MULTILINE)
    assert tags == [pinned], f"apache/kafka tags in docker-compose.yml: {tags}, VERSION: {pinned}"
