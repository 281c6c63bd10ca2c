"""``manage.py dead_letters list | replay | purge``: look at, replay or forget dead letters.

Dead letters are relay records written to ``<topic>.dlq`` (see deadletters.services) and outbox
rows the broker refused ``OUTBOX_MAX_ATTEMPTS`` times. Replay after the fix is deployed: records
go back to their topic, dead outbox rows back in the queue; both are handled idempotently.
"""

from django.core.management.base import BaseCommand

from deadletters.models import DeadLetter
from deadletters.services import dead_letters_purge, dead_letters_replay
from outbox.models import OutboxEvent
from outbox.services import outbox_dead_purge, outbox_dead_revive


class Command(BaseCommand):
    help = "List, replay or purge dead letters (relay records and dead outbox rows)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "replay", "purge"])
        parser.add_argument("--id", type=int, action="append", dest="ids", help="only these")
        parser.add_argument("--topic", help="only records of this source topic")
        parser.add_argument(
            "--all", action="store_true", help="replay: also letters already replayed"
        )

    def handle(self, *args, action, ids, topic, all, **options):
        letters = DeadLetter.objects.all()
        if ids:
            letters = letters.filter(pk__in=ids)
        if topic:
            letters = letters.filter(topic=topic)
        dead_rows = OutboxEvent.objects.filter(dead_at__isnull=False)
        if ids or topic:
            dead_rows = dead_rows.none()  # ids and topics name relay records
        if action == "list":
            self._list(letters, dead_rows)
        elif action == "replay":
            sent = dead_letters_replay(letters=letters if all else letters.filter(replayed_at=None))
            revived = outbox_dead_revive(rows=dead_rows)
            self.stdout.write(f"replayed {sent} record(s); {revived} outbox row(s) queued again")
        else:
            purged = dead_letters_purge(letters=letters)
            dropped = outbox_dead_purge(rows=dead_rows)
            self.stdout.write(f"purged {purged} record(s) and {dropped} outbox row(s)")

    def _list(self, letters, dead_rows):
        for letter in letters.order_by("dead_at", "pk"):
            state = (
                f"replayed {letter.replayed_at:%Y-%m-%d %H:%M:%S}" if letter.replayed_at else "dead"
            )
            self.stdout.write(
                f"#{letter.pk} {letter.topic}/{letter.partition}@{letter.offset} "
                f"{letter.dead_at:%Y-%m-%d %H:%M:%S} {state} attempts={letter.attempts} "
                f"{letter.error_class}: {letter.error[:200]}"
            )
        for row in dead_rows.order_by("id"):
            self.stdout.write(
                f"outbox #{row.pk} {row.topic} key={row.key} {row.dead_at:%Y-%m-%d %H:%M:%S} "
                f"attempts={row.attempts} {row.last_error[:200]}"
            )
        self.stdout.write(f"{letters.count()} record(s), {dead_rows.count()} dead outbox row(s)")
