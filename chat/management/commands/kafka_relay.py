"""``manage.py kafka_relay``: forward Kafka events to the channel layer (see zzalu.relay)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from chat import relay as chat_relay
from comments import relay as hakwon_relay
from deadletters.services import dead_letter_write
from zzalu.kafka import make_relay_consumer, topic_name
from zzalu.relay import Announcer, Relay
from zzalu.worker import run_worker, stop_on_signals


class Command(BaseCommand):
    help = "Store chat events, then announce chat and hakwon events to the sockets watching."

    def add_arguments(self, parser):
        parser.add_argument("--log-every", type=float, default=10.0, help="seconds between stats")
        parser.add_argument("--metrics-port", type=int, default=settings.RELAY_METRICS_PORT)

    def handle(self, *args, log_every, metrics_port, **options):
        stop = stop_on_signals()
        handlers = {
            topic_name("chat"): chat_relay.handle_batch,
            topic_name("hakwon"): hakwon_relay.handle_batch,
        }
        consumer = make_relay_consumer(list(handlers))
        announcer = Announcer()
        relay = Relay(
            consumer=consumer,
            handlers=handlers,
            announce=announcer,
            dead_letter=dead_letter_write,
            log_every=log_every,
        )
        try:
            run_worker(relay, stop=stop, metrics_port=metrics_port)
        finally:
            consumer.close()
            announcer.close()
