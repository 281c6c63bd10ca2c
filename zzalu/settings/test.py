"""Test settings: the same real Redis and Kafka as base, on topics and keys of their own.

The suite shares its database with the web server and relay processes it starts, so SQLite
runs from a file (``.local/test/``) rather than in memory.
"""

import os
import uuid

# Every test session gets its own Kafka topics, consumer group and Redis key prefix, so a
# session never reads what an earlier one left in the broker. Child processes inherit them.
_run = os.environ.setdefault("ZZALU_TEST_RUN", uuid.uuid4().hex[:10])
os.environ.setdefault("KAFKA_TOPIC_PREFIX", f"test-{_run}.")
os.environ.setdefault("CHANNEL_LAYER_PREFIX", f"test-{_run}")
os.environ.setdefault("CACHE_PREFIX", f"test-{_run}")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")

from .base import *  # noqa: E402,F403
from .base import BASE_DIR, DATABASES  # noqa: E402

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    _test_db = os.environ.get("ZZALU_TEST_SQLITE", str(BASE_DIR / ".local" / "test" / "db.sqlite3"))
    DATABASES["default"]["TEST"] = {"NAME": _test_db}
    os.makedirs(os.path.dirname(_test_db), exist_ok=True)

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
