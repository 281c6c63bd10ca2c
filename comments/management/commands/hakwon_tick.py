"""``manage.py hakwon_tick [--loop]``: open today's title-hakwon, close and award earlier ones."""

from comments.services import hakwon_tick
from zzalu.worker import Worker, WorkerCommand


class Scheduler(Worker):
    """One tick a round (safe to rerun); a failed tick is retried with backoff."""

    name = "scheduler"
    backoff_first = 1.0

    def __init__(self, *, every: float, report):
        self.idle, self.report = every, report

    def step(self) -> int:
        self.report(hakwon_tick())
        return 0  # then wait ``every`` seconds


class Command(WorkerCommand):
    help = "Open today's title-hakwon and close earlier ones with their awards (safe to rerun)."
    metrics_port_setting = "SCHEDULER_METRICS_PORT"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--loop", action="store_true", help="keep running, ticking periodically"
        )
        parser.add_argument("--every", type=float, default=60.0, help="seconds between ticks")

    def handle(self, *args, loop, **options):
        if loop:
            super().handle(*args, **options)
        else:
            self._report(hakwon_tick())

    def make_worker(self, stop, *, every, **options):
        return Scheduler(every=every, report=self._report)

    def _report(self, result):
        for hakwon in result["closed"]:
            self.stdout.write(f"closed {hakwon}")
        for hakwon in result["opened"]:
            self.stdout.write(f"opened {hakwon}")
