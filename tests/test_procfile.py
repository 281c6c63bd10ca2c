"""docker-compose.yml and the image run exactly the processes the Procfile declares.

The comparison is ops/deploy_check.py's own (compose's long-running app services and the
Dockerfile CMD against zzalu/procfile.py, expanded as in a container), so the check and this
test cannot drift apart. The edited copies show that a command changed in one place only fails.
"""

import copy
import sys
from pathlib import Path

import pytest
import yaml

from zzalu import procfile

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT / "ops"))  # last: ops/kafka/ must not shadow the kafka package
import deploy_check  # noqa: E402

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
IMAGE_CMD = deploy_check.dockerfile_cmd((ROOT / "Dockerfile").read_text())


def failures(compose=COMPOSE, image_cmd=IMAGE_CMD, procfile_text=None, tmp_path=None):
    declared = procfile.declared()
    if procfile_text is not None:
        (tmp_path / "Procfile").write_text(procfile_text)
        declared = procfile.declared(tmp_path / "Procfile")
    results = deploy_check.procfile_checks(compose, image_cmd, declared)
    return [message for passed, message in results if not passed]


def test_compose_and_the_image_run_the_procfile():
    results = deploy_check.procfile_checks(COMPOSE, IMAGE_CMD, procfile.declared())
    assert [message for passed, message in results if not passed] == []
    checked = {message.split(" runs ")[0] for _, message in results}
    services = {"service web", "service relay", "service sweeper", "service scheduler"}
    assert services | {"the Dockerfile CMD"} <= checked


def edited_compose(service: str, command) -> dict:
    compose = copy.deepcopy(COMPOSE)
    if command is None:
        del compose["services"][service]["command"]
    else:
        compose["services"][service]["command"] = command
    return compose


@pytest.mark.parametrize(
    ("service", "command", "expected"),
    [
        ("relay", ["python", "manage.py", "kafka_relay", "--max-batch", "10"], "service relay"),
        ("web", ["daphne", "-b", "0.0.0.0", "-p", "8000", "zzalu.asgi:application"], "service web"),
        ("scheduler", "python manage.py hakwon_tick", "service scheduler"),
        # No command: the service runs the image's CMD (the web server), and nothing the relay.
        ("relay", None, "Procfile relay runs in no compose service"),
    ],
)
def test_a_compose_command_changed_alone_fails(service, command, expected):
    found = failures(compose=edited_compose(service, command))
    assert any(message.startswith(expected) for message in found), found


def test_a_dockerfile_cmd_changed_alone_fails():
    image_cmd = [word.replace("8000", "8001") for word in IMAGE_CMD]
    assert failures(image_cmd=image_cmd) == [
        f"the Dockerfile CMD runs {' '.join(image_cmd)}: a command the Procfile does not declare"
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("kafka_relay\n", "kafka_relay --max-batch 10\n", "service relay"),
        ("${PORT:-8000}", "${PORT:-8000} --proxy-headers", "service web"),
        ("scheduler:", "worker: python manage.py outbox_sweeper\nscheduler:", "Procfile worker"),
    ],
)
def test_a_procfile_command_changed_alone_fails(tmp_path, old, new, expected):
    text = procfile.PROCFILE.read_text()
    assert old in text
    found = failures(procfile_text=text.replace(old, new), tmp_path=tmp_path)
    assert any(message.startswith(expected) for message in found), found
