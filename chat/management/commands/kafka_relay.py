"""``manage.py kafka_relay``: forward Kafka events to the channel layer (see zzalu.relay)."""

import logging

from django.core.management.base import BaseCommand

from chat import relay as chat_relay
from comments import relay as hakwon_relay
from zzalu.kafka import make_relay_consumer, topic_name
from zzalu.relay import Announcer, run_relay, stop_on_signals

logger = logging.getLogger("zzalu.relay")


class Command(BaseCommand):
    help = "Store chat events, then announce chat and hakwon events to the sockets watching."

    def add_arguments(self, parser):
        parser.add_argument("--log-every", type=float, default=10.0, help="seconds between stats")

    def handle(self, *args, log_every, **options):
        stop = stop_on_signals()
        handlers = {
            topic_name("chat"): chat_relay.handle_batch,
            topic_name("hakwon"): hakwon_relay.handle_batch,
        }
        consumer = make_relay_consumer(list(handlers))
        announcer = Announcer()
        logger.info("relay started: topics %s", ", ".join(handlers))
        try:
            run_relay(
                consumer=consumer,
                handlers=handlers,
                announce=announcer,
                stop=stop,
                log_every=log_every,
            )
        finally:
            consumer.close()
            announcer.close()
        logger.info("relay stopped")
