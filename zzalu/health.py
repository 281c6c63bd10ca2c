"""Liveness (/healthz) and readiness (/readyz: database, Redis and Kafka answer, and a relay
has finished a round recently — a relay that died or is stuck makes the site say so)."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from .kafka import kafka_ready
from .redis import get_redis
from .worker import heartbeat_age


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


CHECKS = {"database": _database, "redis": _redis, "kafka": kafka_ready, "relay": _relay}


def probe(name: str) -> bool:
    try:
        CHECKS[name]()
    except Exception:
        return False
    return True


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    results, details = {}, {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Stale as exc:
            results[name] = "stale"
            details[name] = str(exc)
        except Exception as exc:  # any failure means "not ready"; say which and why
            results[name] = f"down: {exc.__class__.__name__}: {exc}"[:300]
    ready = all(v == "ok" for v in results.values())
    body = {"status": "ready" if ready else "unavailable", "checks": results}
    if details:
        body["details"] = details
    return JsonResponse(body, status=200 if ready else 503)
