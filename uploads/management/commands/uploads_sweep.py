from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from uploads.services import uploads_sweep


class Command(BaseCommand):
    help = (
        "Remove uploads that nothing references (no message, room, contest day or profile) "
        "once they are older than the grace period. Safe to run at any time, e.g. daily."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--grace-hours",
            type=int,
            default=settings.MEDIA_SWEEP_GRACE_HOURS,
            help="Keep unreferenced uploads younger than this (MEDIA_SWEEP_GRACE_HOURS).",
        )

    def handle(self, *args, grace_hours: int, **options):
        removed = uploads_sweep(grace=timedelta(hours=grace_hours))
        self.stdout.write(f"removed {removed} unreferenced upload(s)")
