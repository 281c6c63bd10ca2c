"""``manage.py hakwon_tick [--loop]``: open today's title-hakwon, close and award earlier ones."""

from django.conf import settings
from django.core.management.base import BaseCommand

from comments.services import hakwon_tick
from zzalu.worker import Worker, run_worker, stop_on_signals


class Scheduler(Worker):
    """One tick a round (safe to rerun); a failed tick is retried with backoff."""

    name = "scheduler"
    backoff_first = 1.0

    def __init__(self, *, every: float, report):
        self.idle, self.report = every, report

    def step(self) -> int:
        self.report(hakwon_tick())
        return 0  # then wait ``every`` seconds


class Command(BaseCommand):
    help = "Open today's title-hakwon and close earlier ones with their awards (safe to rerun)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--loop", action="store_true", help="keep running, ticking periodically"
        )
        parser.add_argument("--every", type=float, default=60.0, help="seconds between ticks")
        parser.add_argument("--metrics-port", type=int, default=settings.SCHEDULER_METRICS_PORT)

    def handle(self, *args, loop, every, metrics_port, **options):
        if not loop:
            self._report(hakwon_tick())
            return
        stop = stop_on_signals()
        run_worker(
            Scheduler(every=every, report=self._report), stop=stop, metrics_port=metrics_port
        )

    def _report(self, result):
        for hakwon in result["closed"]:
            self.stdout.write(f"closed {hakwon}")
        for hakwon in result["opened"]:
            self.stdout.write(f"opened {hakwon}")
