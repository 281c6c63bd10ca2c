# The Zzalu Realtime app image: one image for every app service in docker-compose.yml
# (web, relay, sweeper, scheduler, migrate); the default command serves HTTP + WebSockets.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=zzalu.settings.base

WORKDIR /app

RUN groupadd --system --gid 10001 zzalu \
    && useradd --system --uid 10001 --gid zzalu --home-dir /app --no-create-home zzalu

# Runtime dependencies only (requirements-dev.txt is for tests and linting).
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Static files are baked into the image (WhiteNoise serves them). The settings refuse to load
# without a real SECRET_KEY and ALLOWED_HOSTS when DEBUG is off: give them throwaway values
# (a random key) for this step only; they are not kept in the image's environment.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    ALLOWED_HOSTS=localhost DEBUG=false python manage.py collectstatic --noinput

# The code stays root-owned and read-only for the app user; uploads (MEDIA_ROOT, the compose
# volume `media`, which starts with this folder's owner) are the one place it writes.
RUN mkdir -p /app/media && chown zzalu:zzalu /app/media
USER zzalu
EXPOSE 8000

# No HEALTHCHECK here: the relay, sweeper and scheduler run this image too (compose checks web).
# The Procfile's web process (see there why each option): one Uvicorn process per container;
# compose scales the containers.
CMD ["uvicorn", "--host", "0.0.0.0", "--port", "8000", "--workers", "1", "--ws", "websockets-sansio", "--ws-per-message-deflate", "false", "--no-proxy-headers", "--no-access-log", "--lifespan", "off", "--log-level", "warning", "--timeout-graceful-shutdown", "10", "zzalu.asgi:application"]
