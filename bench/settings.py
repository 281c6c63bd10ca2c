"""The benchmark's settings: production's, plus the baseline arm (bench/direct.py) it measures."""

from zzalu.settings.base import *  # noqa: F403
from zzalu.settings.base import WEBSOCKET_ROUTES

WEBSOCKET_ROUTES = [*WEBSOCKET_ROUTES, "bench.direct"]
