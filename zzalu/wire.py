"""A room's frames put on the wire once, written as they are to every socket of the process.

A server sends a text frame unmasked and, with per-message compression off (the Procfile's web
line), the bytes of one frame are the same for every socket that gets it. Through ASGI each
socket's send encodes the text and frames it again: in a room of 2,000 that was about half of a
delivery's cost (docs/decisions/0016). ``shared_frame`` frames a text once (kept for the frames
many sockets are sent, a room's, while they are recent), and ``direct_writer`` writes such bytes
straight to the socket's transport — what ``websockets.broadcast`` does for its own connections.

It knows one server: Uvicorn's ``websockets-sansio`` protocol, whose ASGI ``send`` is the
protocol's own method. Anything else (Daphne, another Uvicorn protocol, compression negotiated,
a connection that is not open, or a send wrapped by middleware) gets no writer, or a writer that
declines, and the socket sends through ASGI as before; so does a frame no writer took.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from websockets.frames import Frame, Opcode
from websockets.protocol import State

try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # pragma: no cover - Uvicorn without its websockets extra
    WebSocketsSansIOProtocol = None


@lru_cache(maxsize=512)
def shared_frame(text: str) -> bytes:
    """``text`` as one unmasked, uncompressed WebSocket text frame (a room's recent frames are
    sent to every socket in it: each is framed once)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


def direct_writer(send) -> Callable[[bytes], bool] | None:
    """A function writing a frame from ``shared_frame`` straight to the socket behind the ASGI
    ``send`` (True when written; False: send it through ASGI), or None for a server it does not
    know. Call it once the socket is accepted."""
    protocol = getattr(send, "__self__", None)
    if WebSocketsSansIOProtocol is None or not isinstance(protocol, WebSocketsSansIOProtocol):
        return None
    conn, transport = protocol.conn, protocol.transport
    if conn.extensions:  # compression negotiated: each socket's frames are its own
        return None

    def write(frame: bytes) -> bool:
        # As the protocol's own send, minus encoding: only on an open connection it has not
        # begun to close, with nothing of its own waiting to go out first, and while the
        # client keeps up (the protocol's send waits while the transport's buffer is full: a
        # socket that stopped reading gets its frames that way, in a task of its own).
        if (
            not protocol.writable.is_set()
            or conn.state is not State.OPEN
            or protocol.close_sent
            or conn.writes
            or transport.is_closing()
        ):
            return False
        transport.write(frame)
        return True

    return write
