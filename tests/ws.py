"""A small synchronous WebSocket client speaking the app's JSON frames."""

from __future__ import annotations

import json
import time
from collections import deque
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


class Socket:
    """Frames are read in order; asking for one type leaves the others queued for later."""

    def __init__(
        self,
        url: str,
        origin: str | None = None,
        headers: dict[str, str] | None = None,
        subprotocols: list[str] | None = None,
    ):
        self.url = url
        # Keep reading frames into memory whatever the test is doing, and send no keepalive
        # pings: a test that reads one socket while another fills up must not make the
        # client give the other up for a missing pong queued behind unread frames.
        self._connection = connect(
            url,
            open_timeout=10,
            origin=origin,
            additional_headers=headers,
            subprotocols=subprotocols,
            max_size=2**22,
            max_queue=None,
            ping_interval=None,
        )
        self.conn = self._connection.__enter__()
        self.received: list[dict[str, Any]] = []  # everything, in arrival order
        self.pending: deque[dict[str, Any]] = deque()  # arrived, not yet taken
        self.close_reason: str | None = None

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._connection.__exit__(None, None, None)

    def send(self, **frame: Any) -> None:
        self.conn.send(json.dumps(frame))

    def send_raw(self, data: str | bytes) -> None:
        self.conn.send(data)

    def _read(self, timeout: float) -> dict[str, Any]:
        frame = json.loads(self.conn.recv(timeout=max(0.001, timeout)))
        self.received.append(frame)
        return frame

    def recv(self, timeout: float = 10) -> dict[str, Any]:
        """The next frame of any type."""
        return self.pending.popleft() if self.pending else self._read(timeout)

    def recv_type(self, type_: str, timeout: float = 10) -> dict[str, Any]:
        """The next frame of this type; frames of other types stay queued."""
        for frame in self.pending:
            if frame["type"] == type_:
                self.pending.remove(frame)
                return frame
        deadline = time.monotonic() + timeout
        while True:
            frame = self._read(deadline - time.monotonic())
            if frame["type"] == type_:
                return frame
            self.pending.append(frame)

    def answer(self, client_msg_id: str, timeout: float = 30) -> dict[str, Any]:
        """The chat.ack or error answering this client_msg_id; other frames stay queued."""
        for frame in self.pending:
            if frame["type"] in ("chat.ack", "error") and frame.get("client_msg_id") == (
                client_msg_id
            ):
                self.pending.remove(frame)
                return frame
        deadline = time.monotonic() + timeout
        while True:
            frame = self._read(deadline - time.monotonic())
            if frame["type"] in ("chat.ack", "error") and frame.get("client_msg_id") == (
                client_msg_id
            ):
                return frame
            self.pending.append(frame)

    def collect(self, type_: str, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        """``count`` frames of a type (TimeoutError says how many arrived)."""
        deadline = time.monotonic() + timeout
        frames: list[dict[str, Any]] = []
        try:
            while len(frames) < count:
                frames.append(self.recv_type(type_, deadline - time.monotonic()))
        except TimeoutError:
            raise TimeoutError(f"got {len(frames)} of {count} {type_} frames") from None
        return frames

    def quiet_for(self, seconds: float, type_: str) -> list[dict[str, Any]]:
        """Frames of a type arriving within ``seconds``: how tests assert nothing more came."""
        frames = [f for f in self.pending if f["type"] == type_]
        for frame in frames:
            self.pending.remove(frame)
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                frame = self._read(remaining)
            except TimeoutError:
                break
            (frames if frame["type"] == type_ else self.pending).append(frame)
        return frames

    def close_code(self, timeout: float = 10) -> int | None:
        """Wait for the server to close the socket; returns its close code. The reason, from
        the close frame or the ``closing`` frame before it, is kept in ``close_reason``."""
        for frame in self.pending:
            if frame["type"] == "closing":
                self.close_reason = frame["reason"]
        try:
            while True:
                if (frame := self._read(timeout))["type"] == "closing":
                    self.close_reason = frame["reason"]
        except ConnectionClosed as exc:
            if exc.rcvd and exc.rcvd.reason:
                self.close_reason = exc.rcvd.reason
            return exc.rcvd.code if exc.rcvd else None


def send_until_acked(
    sock: Socket, body: str, client_msg_id: str, within: float = 90, **extra: Any
) -> dict[str, Any]:
    """Send one chat message, retrying it (same client_msg_id) while the server answers
    ``unavailable``, until it is acknowledged. Other frames stay queued on the socket."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        sock.send(type="chat.send", client_msg_id=client_msg_id, body=body, **extra)
        while True:
            frame = sock._read(30)
            if (
                frame["type"] in ("chat.ack", "error")
                and frame.get("client_msg_id") == client_msg_id
            ):
                break
            sock.pending.append(frame)
        if frame["type"] == "chat.ack":
            return frame
        assert frame["code"] == "unavailable", frame
        time.sleep(0.5)
    raise AssertionError(f"{client_msg_id} was never acknowledged")
