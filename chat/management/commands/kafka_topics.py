from django.core.management.base import BaseCommand, CommandError
from kafka.errors import KafkaError

from zzalu.kafka import ensure_topics


class Command(BaseCommand):
    help = "Create the app's Kafka topics if they are missing (safe to run again)."

    def handle(self, *args, **options):
        try:
            created = ensure_topics()
        except KafkaError as exc:
            raise CommandError(f"Kafka is not reachable: {exc}") from exc
        self.stdout.write(f"created: {', '.join(created)}" if created else "topics already exist")
