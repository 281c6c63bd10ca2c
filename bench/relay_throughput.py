"""How many chat messages per second one relay stores and forwards.

``python -m bench.relay_throughput [--messages 20000] [--rooms 20]`` writes a backlog of real
``chat.message`` records to a topic of its own (as the web servers would), then starts one
relay (``manage.py kafka_relay``) and times it until every message is stored and announced on
the channel layer (group_send to each room, as in production; nobody needs to listen). Prints
messages/s and the relay's CPU seconds per 1,000 messages. Kafka and Redis: the ones
``ops/services.py`` runs. Everything the run creates is deleted at the end.
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC, datetime

import psutil

from zzalu import procfile
from zzalu.procfile import Process

from .stack import (
    BENCH_LOCAL,
    base_env,
    cleanup,
    environ_for_django,
    prepare_database,
    services_up,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--rooms", type=int, default=20)
    args = parser.parse_args()

    run_id = uuid.uuid4().hex[:8]
    run_dir = BENCH_LOCAL / f"relay-{run_id}"
    env = base_env(run_id, run_dir / "db.sqlite3", debug=False)
    environ_for_django(env)
    services_up()
    import django

    django.setup()
    from accounts.services import user_create
    from chat import events
    from chat.models import ChatMessage
    from chat.services import chat_event_id, room_create
    from zzalu import envelope
    from zzalu.kafka import ensure_topics, get_producer, produce_nowait, topic_name

    prepare_database(run_dir / "db.sqlite3")
    ensure_topics()
    relay = None
    try:
        member = user_create(username=f"relay-{run_id}", password=uuid.uuid4().hex)
        rooms = [room_create(owner=member, name=f"room {i}") for i in range(args.rooms)]
        topic, now = topic_name("chat"), datetime.now(UTC)
        for i in range(args.messages):
            room = rooms[i % len(rooms)]
            record = events.message_record(
                event_id=chat_event_id(sender_id=member.pk, room_id=room.pk, client_msg_id=str(i)),
                room_id=room.pk,
                sender=member.public_profile,
                body=f"message {i}",
                gif_url=None,
                client_msg_id=str(i),
                sent_at=now,
            )
            produce_nowait(topic, str(room.pk), envelope.encode(record))
        get_producer().flush(60)
        print(f"backlog: {args.messages} messages in {args.rooms} rooms on {topic}")

        relay = Process("relay", procfile.argv("relay"), env, run_dir / "relay.log").start()
        process = psutil.Process(relay.pid)
        cpu_before, started = process.cpu_times(), time.monotonic()
        while (stored := ChatMessage.objects.count()) < args.messages:
            if not relay.running:
                raise SystemExit(f"the relay exited:\n{relay.log_tail()}")
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        cpu = process.cpu_times()
        cpu_s = (cpu.user - cpu_before.user) + (cpu.system - cpu_before.system)
        print(
            f"one relay stored and announced {stored} messages in {elapsed:.1f} s: "
            f"{stored / elapsed:,.0f} messages/s, {1000 * cpu_s / stored:.3f} CPU-s per 1,000 "
            "(includes joining the consumer group)"
        )
    finally:
        if relay is not None:
            relay.stop()
        cleanup(run_id)


if __name__ == "__main__":
    main()
