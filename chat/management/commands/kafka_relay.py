"""``manage.py kafka_relay``: forward Kafka events to the channel layer (see zzalu.relay)."""

from chat import relay as chat_relay
from comments import relay as hakwon_relay
from deadletters.services import dead_letter_write
from notifications import relay as notifications_relay
from zzalu.kafka import make_relay_consumer, topic_name
from zzalu.relay import Announcer, Relay
from zzalu.worker import WorkerCommand


class Command(WorkerCommand):
    help = (
        "Store chat events and notifications, then announce them and hakwon events to the"
        " sockets watching."
    )
    metrics_port_setting = "RELAY_METRICS_PORT"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--log-every", type=float, default=10.0, help="seconds between stats")
        parser.add_argument(
            "--max-batch", type=int, default=500, help="records handled per poll at most"
        )

    def make_worker(self, stop, *, log_every, max_batch, **options):
        handlers = {
            topic_name("chat"): chat_relay.handle_batch,
            topic_name("hakwon"): hakwon_relay.handle_batch,
            topic_name("notifications"): notifications_relay.handle_batch,
        }
        return Relay(
            consumer=make_relay_consumer(list(handlers)),
            handlers=handlers,
            announce=Announcer(),
            dead_letter=dead_letter_write,
            log_every=log_every,
            max_batch=max_batch,
        )
