"""Test settings: the same real Redis and Kafka as base, on topics and keys of their own.

The suite shares its database with the web server and relay processes it starts, so SQLite
runs from a file (``.local/test/<run>/``) rather than in memory.
"""

import os
import uuid
from pathlib import Path

# Every test session gets its own Kafka topics, consumer group and Redis key prefix, so a
# session never reads what an earlier one left in the broker. Child processes inherit them.
_run = os.environ.setdefault("ZZALU_TEST_RUN", uuid.uuid4().hex[:10])
os.environ.setdefault("KAFKA_TOPIC_PREFIX", f"test-{_run}.")
os.environ.setdefault("CHANNEL_LAYER_PREFIX", f"test-{_run}")
os.environ.setdefault("CACHE_PREFIX", f"test-{_run}")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
# Local development, asked for explicitly (the default is off); child processes inherit it.
os.environ.setdefault("DEBUG", "true")
# The suite logs in from 127.0.0.1 thousands of times, wrong passwords included (fuzzing), and
# lockouts last the whole session in Redis: tests/test_login_limits.py runs the shipped limits.
os.environ.setdefault("LOGIN_FAILURES_PER_ACCOUNT", "100000")
os.environ.setdefault("LOGIN_FAILURES_PER_ADDRESS", "100000")
# The whole suite reads the API anonymously from 127.0.0.1; the throttle has its own test.
os.environ.setdefault("API_ANON_READ_THROTTLE", "10000/s")
# Uploads of this session in a folder of its own (the web processes it starts write there too).
os.environ.setdefault(
    "MEDIA_ROOT", str(Path(__file__).resolve().parents[2] / ".local/test" / _run / "media")
)
os.environ.setdefault("API_UPLOAD_THROTTLE", "10000/s")

from .base import *  # noqa: E402,F403
from .base import BASE_DIR, DATABASES  # noqa: E402

# Files of this session (database, child process logs): sessions never share them.
TEST_RUN_DIR = BASE_DIR / ".local" / "test" / _run
TEST_RUN_DIR.mkdir(parents=True, exist_ok=True)

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(TEST_RUN_DIR / "db.sqlite3")}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{_run}"}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
