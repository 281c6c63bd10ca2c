"""Liveness (/healthz) and readiness (/readyz: database, Redis and Kafka answer, and a relay
has finished a round recently — a relay that died or is stuck makes the site say so).

The public answer says only ok / down / stale per dependency; why is in the log.
"""

import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from .kafka import broker_answers
from .redis import get_redis
from .worker import heartbeat_age

logger = logging.getLogger(__name__)


class Stale(Exception):
    pass


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis():
    get_redis().ping()


def _relay():
    age = heartbeat_age("relay")
    if age is None:
        raise Stale("no relay has reported")
    if age > settings.WORKER_HEARTBEAT_STALE_SECONDS:
        raise Stale(f"last round {age:.0f}s ago")


CHECKS = {"database": _database, "redis": _redis, "kafka": broker_answers, "relay": _relay}


def probe(name: str) -> bool:
    try:
        CHECKS[name]()
    except Exception:
        return False
    return True


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Stale as exc:
            results[name] = "stale"
            logger.warning("readyz: %s stale: %s", name, exc)
        except Exception as exc:  # any failure means "not ready"; the log says why
            results[name] = "down"
            logger.warning("readyz: %s down: %s: %s", name, exc.__class__.__name__, exc)
    ready = all(v == "ok" for v in results.values())
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": results},
        status=200 if ready else 503,
    )
