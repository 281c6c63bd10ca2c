"""``manage.py rebuild_chat_history``: replay ``chat.events`` from the beginning into an empty
database, through the relay's own store step, reproducing every room's messages, their edits,
deletions and reactions, and the seqs of all of them."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from kafka import KafkaConsumer, TopicPartition

from chat import relay
from chat.models import ChatMessage, MessageChange
from chat.services import rooms_ensure
from zzalu.kafka import topic_name


class Command(BaseCommand):
    help = "Rebuild chat history from the Kafka log (the log is the source of truth)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--create-missing-rooms",
            action="store_true",
            help="create placeholder rooms for room ids the log mentions but the database lacks",
        )

    def handle(self, *args, create_missing_rooms, **options):
        if ChatMessage.objects.exists():
            raise CommandError(
                "The database already holds chat messages; rebuild into an empty one."
            )
        consumer = _consumer_from_beginning(topic_name("chat"))
        ends = consumer.end_offsets(list(consumer.assignment()))
        records = 0
        try:
            while any(consumer.position(tp) < end for tp, end in ends.items()):
                for batch in consumer.poll(timeout_ms=1000, max_records=2000).values():
                    records += len(batch)
                    parsed = relay.parse_batch(batch, skip_poison=True)
                    if create_missing_rooms:
                        rooms_ensure(room_ids=parsed.room_ids)
                    relay.store_batch(parsed, strict=False)
        finally:
            consumer.close()
        stored, changes = ChatMessage.objects.count(), MessageChange.objects.count()
        self.stdout.write(
            f"replayed {records} records; {stored} messages and {changes} changes stored"
        )


def _consumer_from_beginning(topic: str) -> KafkaConsumer:
    consumer = KafkaConsumer(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, enable_auto_commit=False
    )
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise CommandError(f"Topic {topic} does not exist.")
    assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    consumer.seek_to_beginning(*assigned)
    return consumer
