"""Liveness (/healthz) and readiness (/readyz: database, Redis and Kafka all answer)."""

from django.db import connection
from django.http import JsonResponse

from .kafka import kafka_ready
from .redis import get_redis


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis():
    get_redis().ping()


CHECKS = {"database": _database, "redis": _redis, "kafka": kafka_ready}


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # any failure means "not ready"; say which and why
            results[name] = f"down: {exc.__class__.__name__}: {exc}"[:300]
    ready = all(v == "ok" for v in results.values())
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": results},
        status=200 if ready else 503,
    )
