"""No token in a log line (issue 11, item 4), and nginx's own scheme (item 8).

The stack runs for real: ops/nginx/nginx.conf in front of a Uvicorn web server started as the
deployment starts it (the Procfile's web command, which compose runs too), the
relay and the sweeper. Clients use tokens every way they can; afterwards no log file of the
test run holds any of them.
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.error
import urllib.request

import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from .conftest import make_hakwon, make_room, make_user
from .procs import Nginx
from .ws import Socket

PASSWORD = "pw-for-tests-1234"  # what conftest.make_user sets


def fetch(url: str, *, data: dict | None = None, headers: dict | None = None):
    body = None if data is None else json.dumps(data).encode()
    request = urllib.request.Request(url, data=body, headers=headers or {})
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def logged_stack(live):
    web = live.start_web("web-logs")
    proxy = Nginx("nginx-logs", web.port).start()
    yield web, proxy
    proxy.stop()
    web.stop()


def test_tokens_reach_no_log_line_of_the_stack(live, logged_stack):
    web, proxy = logged_stack
    room, hakwon, member = make_room(), make_hakwon(), make_user()
    tokens = [str(AccessToken.for_user(member)) for _ in range(5)]
    refused = "not-a-jwt-but-secret-" + "x" * 40

    # A member's socket through nginx, and straight to Uvicorn, with ?token=.
    with Socket(f"{proxy.ws}/ws/rooms/{room.pk}/?token={tokens[0]}") as sock:
        sock.send(type="chat.send", client_msg_id="via-nginx", body="안녕")
        assert sock.recv_type("chat.ack")["client_msg_id"] == "via-nginx"
    with Socket(f"{web.ws}/ws/hakwons/{hakwon.pk}/?token={tokens[1]}") as sock:
        sock.send(type="comment.create", content="캡션", client_msg_id="h-1")
        assert sock.recv_type("comment.ack")["client_msg_id"] == "h-1"
    # A refused token, and a token in the Sec-WebSocket-Protocol header (through nginx).
    assert Socket(f"{proxy.ws}/ws/rooms/{room.pk}/?token={refused}").close_code() == 4401
    with Socket(
        f"{proxy.ws}/ws/rooms/{room.pk}/", subprotocols=["zzalu.bearer", tokens[2]]
    ) as sock:
        assert sock.conn.subprotocol == "zzalu.bearer"
        sock.send(type="chat.send", client_msg_id="via-header", body="헤더로")
        assert sock.recv_type("chat.ack")["client_msg_id"] == "via-header"
    # A socket URL fetched as plain HTTP (a proxy that does not upgrade): 404, with its query.
    for base in (proxy.http, web.http):
        assert fetch(f"{base}/ws/rooms/{room.pk}/?token={tokens[3]}")[0] == 404
        assert fetch(f"{base}/api/rooms/?search=x&token={tokens[4]}")[0] == 200
    # Refresh tokens travel in bodies: a login, a refresh, a refused refresh.
    status, body = fetch(
        f"{proxy.http}/api/auth/token/",
        data={"username": member.username, "password": PASSWORD},
    )
    assert status == 200, body
    pair = json.loads(body)
    status, body = fetch(f"{proxy.http}/api/auth/token/refresh/", data={"refresh": pair["refresh"]})
    assert status == 200, body
    assert fetch(f"{proxy.http}/api/auth/token/refresh/", data={"refresh": refused})[0] == 401
    secrets = [*tokens, refused, pair["access"], pair["refresh"], *json.loads(body).values()]

    proxy.stop()  # both flush their logs
    web.stop()
    logs = sorted(settings.TEST_RUN_DIR.glob("*.log"))
    assert {proxy.access_log, proxy.error_log, web.log_path, live.relay.log_path} <= set(logs)
    for log in logs:
        text = log.read_text(errors="replace")
        for secret in secrets:
            assert secret not in text, f"a token is in {log.name}"
    # The requests are still logged, by path.
    access = proxy.access_log.read_text()
    assert f'"GET /ws/rooms/{room.pk}/ HTTP/1.1" 101' in access
    assert '"GET /api/rooms/ HTTP/1.1" 200' in access
    app = web.log_path.read_text()
    assert f'"WSCONNECT /ws/hakwons/{hakwon.pk}/"' in app
    assert f'"GET /ws/rooms/{room.pk}/" 404' in app


def test_the_bearer_subprotocol_is_answered_even_when_the_token_is_refused(live):
    """Browsers fail a handshake that leaves an offered subprotocol unanswered: the client must
    see the 4401, not a failed connection."""
    room = make_room()
    sock = Socket(
        live.socket_url(f"/ws/rooms/{room.pk}/"), subprotocols=["zzalu.bearer", "not-a-jwt"]
    )
    assert sock.conn.subprotocol == "zzalu.bearer"
    assert sock.close_code() == 4401


class _Echo(http.server.BaseHTTPRequestHandler):
    """Answers with the X-Forwarded-Proto it was sent."""

    def do_GET(self):
        body = (self.headers.get("X-Forwarded-Proto") or "").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_nginx_says_the_scheme_it_was_reached_by_not_the_clients(live):
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    proxy = Nginx("nginx-scheme", upstream.server_address[1]).start()
    try:
        for path in ("/", "/ws/rooms/1/"):
            status, body = fetch(f"{proxy.http}{path}", headers={"X-Forwarded-Proto": "https"})
            assert (status, body) == (200, b"http"), path
    finally:
        proxy.stop()
        upstream.shutdown()
