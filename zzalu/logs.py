"""Logging: JSON lines for production (LOG_FORMAT=json), and the web process's access log."""

import json
import logging
import time
from datetime import UTC, datetime
from urllib.parse import quote


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


access_log = logging.getLogger("zzalu.access")


def _path(scope) -> str:
    # Never the query string: a socket's `?token=` must not reach a log line. raw_path is what
    # the client sent (percent-encoded: no control characters to inject into the log).
    raw = scope.get("raw_path")
    return raw.decode("ascii", "backslashreplace") if raw else quote(scope.get("path", ""))


class AccessLog:
    """The web process's access log, written by the app: one line per HTTP response and per
    socket opened and ended, with the path but never the query string.

    It replaces the servers' own access logs, which are off where web processes start
    (``uvicorn --no-access-log``, ``daphne -v 0``): theirs write each request's query.
    Only receive is wrapped for sockets, so delivering a frame costs nothing extra.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope, receive, send):
        started, status, size = time.monotonic(), None, 0

        async def logged_send(message):
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, logged_send)
        finally:
            access_log.info(
                '%s "%s %s" %s %d %dms',
                _client(scope),
                scope.get("method", "-"),
                _path(scope),
                status or "-",
                size,
                (time.monotonic() - started) * 1000,
            )

    async def _websocket(self, scope, receive, send):
        started = time.monotonic()

        async def logged_receive():
            message = await receive()
            if message["type"] == "websocket.connect":
                access_log.info('%s "WSCONNECT %s"', _client(scope), _path(scope))
            elif message["type"] == "websocket.disconnect":
                access_log.info(
                    '%s "WSDISCONNECT %s" %s %.1fs',
                    _client(scope),
                    _path(scope),
                    message.get("code", "-"),
                    time.monotonic() - started,
                )
            return message

        await self.app(scope, logged_receive, send)


def _client(scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "-"
