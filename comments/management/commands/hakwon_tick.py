"""``manage.py hakwon_tick [--loop]``: open today's title-hakwon, close and award earlier ones."""

import logging

from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections

from comments.services import hakwon_tick
from zzalu.relay import stop_on_signals

logger = logging.getLogger("zzalu.hakwon")


class Command(BaseCommand):
    help = "Open today's title-hakwon and close earlier ones with their awards (safe to rerun)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--loop", action="store_true", help="keep running, ticking periodically"
        )
        parser.add_argument("--every", type=float, default=60.0, help="seconds between ticks")

    def handle(self, *args, loop, every, **options):
        if not loop:
            self._tick()
            return
        stop = stop_on_signals()
        while not stop.is_set():
            try:
                close_old_connections()
                self._tick()
            except DatabaseError:
                logger.exception("hakwon tick failed; retrying at the next tick")
            stop.wait(every)

    def _tick(self):
        result = hakwon_tick()
        for hakwon in result["closed"]:
            self.stdout.write(f"closed {hakwon}")
        for hakwon in result["opened"]:
            self.stdout.write(f"opened {hakwon}")
