"""Schema-driven fuzzing of the whole REST API (schemathesis against /api/schema/).

No response may be a 5xx, and every documented response must match the schema, for anonymous
clients and for a logged-in member, against the running web server and real services.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from .conftest import make_comment, make_hakwon, make_room, make_user

# Fuzzing runs once, on the database production runs (the suite's time budget).
pytestmark = pytest.mark.postgres

CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"


def fuzz(live, *headers: str) -> subprocess.CompletedProcess:
    argv = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{live.web.http}/api/schema/",
        "--checks",
        CHECKS,
        "--max-examples",
        "20",
        "--seed",
        "20261125",
        "--no-color",
        "--generation-database",
        "none",
    ]
    for header in headers:
        argv += ["-H", header]
    return subprocess.run(argv, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("who", ["anonymous", "member"])
def test_the_api_survives_schema_driven_fuzzing(live, who):
    member = make_user()
    room = make_room(owner=member)
    hakwon = make_hakwon()
    make_comment(hakwon=hakwon, author=member)
    assert room.pk and hakwon.pk
    headers = [f"Authorization: Bearer {AccessToken.for_user(member)}"] if who == "member" else []
    result = fuzz(live, *headers)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
