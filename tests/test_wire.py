"""zzalu.wire: a room's frames framed once and written straight to Uvicorn's sockets."""

from __future__ import annotations

import asyncio
import threading
import time

import uvicorn
from hypothesis import given
from hypothesis import strategies as st
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.sync.client import connect

from zzalu.procfile import free_port
from zzalu.wire import direct_writer, shared_frame


@given(st.text(max_size=70_000))
def test_a_shared_frame_is_the_frame_the_socket_would_have_sent(text):
    server = ServerProtocol()
    server.state = State.OPEN
    server.send_text(text.encode())
    assert server.data_to_send() == [shared_frame(text)]


def test_no_writer_for_a_send_it_does_not_know():
    async def send(message):  # Daphne's, a middleware's wrapper, a test communicator's
        pass

    assert direct_writer(send) is None
    assert direct_writer(print) is None


class Served:
    """Uvicorn with the Procfile's WebSocket protocol, in a thread, serving ``app``."""

    def __init__(self, app, *, deflate: bool = False):
        self.port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            ws="websockets-sansio",
            ws_per_message_deflate=deflate,
            lifespan="off",
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return f"ws://127.0.0.1:{self.port}/"

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)


def writing_app(seen: dict):
    async def app(scope, receive, send):
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        write = seen["writer"] = direct_writer(send)
        await send({"type": "websocket.send", "text": "through ASGI"})
        if write is None:
            seen["written"] = []
        else:
            seen["written"] = [write(shared_frame(t)) for t in ("둘", "x" * 70_000)]
        await send({"type": "websocket.send", "text": "through ASGI again"})
        await send({"type": "websocket.close", "code": 1000})
        if write is not None:
            seen["after close"] = write(shared_frame("after close"))
        while (await receive())["type"] != "websocket.disconnect":
            await asyncio.sleep(0)

    return app


def test_frames_written_straight_to_uvicorns_socket_arrive_in_order_with_the_rest():
    seen: dict = {}
    with Served(writing_app(seen)) as url, connect(url, compression=None) as client:
        got = [client.recv(timeout=5) for _ in range(4)]
    assert got == ["through ASGI", "둘", "x" * 70_000, "through ASGI again"]
    assert seen["writer"] is not None and seen["written"] == [True, True]
    assert seen["after close"] is False  # a closing socket gets nothing more this way


def test_a_socket_that_negotiated_compression_gets_no_writer():
    seen: dict = {}
    with Served(writing_app(seen), deflate=True) as url, connect(url) as client:
        got = [client.recv(timeout=5) for _ in range(2)]
    assert got == ["through ASGI", "through ASGI again"]
    assert seen["writer"] is None


def test_a_client_that_stops_reading_gets_no_more_frames_this_way():
    """Uvicorn's send waits while the transport's buffer is over its limit; the writer declines
    then (the socket's frames go through that send, in a task of their own)."""
    seen: dict = {}

    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        write, frame, written = direct_writer(send), shared_frame("x" * 70_000), 0
        while written < 1_000 and write(frame):
            written += 1
        seen["paused"] = not send.__self__.writable.is_set()
        seen["written"] = written
        while (await receive())["type"] != "websocket.disconnect":
            pass

    with Served(app) as url, connect(url, compression=None, max_queue=1, close_timeout=1) as c:
        deadline = time.monotonic() + 10
        while "written" not in seen and time.monotonic() < deadline:
            time.sleep(0.05)
        c.socket.close()  # it reads nothing more: close the socket under it
    assert seen["paused"] and 0 < seen["written"] < 1_000
