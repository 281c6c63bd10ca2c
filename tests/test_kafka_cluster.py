"""A replicated Kafka: three KRaft brokers (replication factor 3, min.insync.replicas 2) started
by the repo's scripts. One broker stops in the middle of a stream of acknowledged messages:
none is lost, none stored twice, order kept, and the app goes on working with two."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings
from kafka import KafkaAdminClient

from chat.models import ChatMessage

from .conftest import make_room, make_user
from .procs import ROOT, Relay, WebServer, child_env
from .services import service
from .ws import Socket

pytestmark = [pytest.mark.cluster, pytest.mark.outage]

BROKERS = "127.0.0.1:29092,127.0.0.1:29093,127.0.0.1:29094"


@pytest.fixture(scope="module")
def cluster(stack):
    """Web server and relay on the three-broker cluster, with topics of their own."""
    service("stop", "cluster")  # a cluster left by an interrupted run
    service("start", "cluster", CLUSTER_FRESH="1")
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": BROKERS,
        "KAFKA_REPLICATION_FACTOR": "3",
        "KAFKA_MIN_INSYNC_REPLICAS": "2",
        "KAFKA_TOPIC_PREFIX": f"cluster-{settings.KAFKA_TOPIC_PREFIX}",
    }
    subprocess.run(
        [sys.executable, "manage.py", "kafka_topics"], cwd=ROOT, env=child_env(**env), check=True
    )
    web = WebServer("web-cluster", **env).start()
    relay = Relay("relay-cluster", **env).start()
    yield web, env
    relay.stop()
    web.stop()
    service("stop", "cluster")


def topic_isr(topic: str) -> set[int]:
    admin = KafkaAdminClient(bootstrap_servers=BROKERS.split(","))
    try:
        (described,) = admin.describe_topics([topic])
        return {len(p["isr_nodes"]) for p in described["partitions"]}
    finally:
        admin.close()


def test_one_broker_down_mid_stream_loses_nothing_and_the_app_keeps_working(
    cluster, transactional_db, stack
):
    web, env = cluster
    chat_topic = env["KAFKA_TOPIC_PREFIX"] + "chat.events"
    assert topic_isr(chat_topic) == {3}
    room, alice = make_room(), make_user()
    url = stack.socket_url(f"/ws/rooms/{room.pk}/", alice, web=web)
    bodies = [f"m{i}" for i in range(1200)]
    acked: dict[str, str] = {}
    with (
        Socket(stack.socket_url(f"/ws/rooms/{room.pk}/", web=web)) as watcher,
        Socket(url) as sender,
    ):
        stopped = threading.Event()

        def stream():
            for i, body in enumerate(bodies):
                if i == len(bodies) - 200:
                    # The last 200 go out once the broker is down, however long stopping it
                    # took on a busy machine: the stop always falls inside the stream.
                    stopped.wait(timeout=120)
                sender.send(type="chat.send", client_msg_id=body, body=body)
                if i % 20 == 19:
                    time.sleep(0.2)  # about twelve seconds of stream: the broker stops inside it

        streaming = threading.Thread(target=stream)
        streaming.start()
        received = watcher.collect("chat.message", 150, timeout=60)
        service("stop", "cluster-2")
        still_streaming = streaming.is_alive()
        stopped.set()
        try:
            streaming.join()
            # A send that met the leader change may be refused as `unavailable`: the client
            # retries it with the same client_msg_id, as the protocol says.
            deadline = time.monotonic() + 120
            while len(acked) < len(bodies) and time.monotonic() < deadline:
                frame = sender.recv(timeout=30)
                if frame["type"] == "chat.ack":
                    acked[frame["client_msg_id"]] = frame["event_id"]
                elif frame["type"] == "error":
                    assert frame["code"] == "unavailable", frame
                    time.sleep(0.2)
                    retry = frame["client_msg_id"]
                    sender.send(type="chat.send", client_msg_id=retry, body=retry)
            assert set(acked) == set(bodies)
            received += watcher.collect("chat.message", len(bodies) - len(received), timeout=120)

            # Two brokers still make a quorum and an in-sync majority: the app keeps working.
            sender.send(type="chat.send", client_msg_id="with-two", body="with two brokers")
            assert sender.recv_type("chat.ack", timeout=30)["client_msg_id"] == "with-two"
            assert watcher.recv_type("chat.message", timeout=30)["body"] == "with two brokers"
        finally:
            service("start", "cluster-2")
    assert still_streaming, "the broker must stop in the middle of the stream"
    assert [m["body"] for m in received] == bodies
    assert [m["seq"] for m in received] == list(range(1, len(bodies) + 1))
    assert [m["event_id"] for m in received] == [acked[b] for b in bodies]
    rows = ChatMessage.objects.filter(room=room)
    assert rows.count() == len(bodies) + 1 == rows.values("event_id").distinct().count()
