import json
import time
import urllib.request

import pytest


def test_healthz_and_readyz_on_the_running_server(stack):
    with urllib.request.urlopen(stack.web.http + "/healthz") as r:
        assert json.load(r) == {"status": "ok"}
    # Ready once the relay has finished its first round (it joins its consumer group first).
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(stack.web.http + "/readyz") as r:
                body = json.load(r)
            break
        except urllib.error.HTTPError as exc:
            assert time.monotonic() < deadline, json.load(exc)
            time.sleep(0.2)
    assert r.status == 200
    assert body == {
        "status": "ready",
        "checks": {"database": "ok", "redis": "ok", "kafka": "ok", "relay": "ok"},
    }


@pytest.mark.django_db
def test_readyz_says_what_is_down(client, settings, real_services):
    settings.KAFKA_BOOTSTRAP_SERVERS = ["127.0.0.1:1"]
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok" and body["checks"]["redis"] == "ok"
    assert body["checks"]["kafka"] == "down"  # why is in the log, not for the public
