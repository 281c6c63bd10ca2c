"""The floor arm: a raw broadcast server, the least a Python process can spend per delivery.

    python -m bench.floor --port N      (or --fd N: a listening socket handed down)

Serves ``/ws/floor/<room>/`` (a query string, e.g. the token, is ignored) with the
``websockets`` library on uvloop. A ``chat.send`` from a socket is encoded once as a
``chat.message`` frame of the real frame's shape (bench/direct.py's) and written to every
socket of that room with ``websockets.broadcast``. No ack, no auth, no database, no channel
layer: what the pipeline's web process is measured against.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
from collections import defaultdict

import orjson
from websockets import ConnectionClosed, broadcast
from websockets.asyncio.server import serve

from .frames import message_frame

rooms: defaultdict[int, set] = defaultdict(set)


async def handler(ws) -> None:
    parts = ws.request.path.split("?", 1)[0].strip("/").split("/")  # ws, floor, <room>
    if len(parts) != 3 or parts[:2] != ["ws", "floor"] or not parts[2].isdigit():
        await ws.close(4404, "unknown path")
        return
    room_id = int(parts[2])
    members = rooms[room_id]
    members.add(ws)
    try:
        async for raw in ws:
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(data, dict) or data.get("type") != "chat.send":
                continue
            frame = message_frame(room_id=room_id, sender=None, send=data)
            broadcast(members, orjson.dumps(frame).decode())
    except ConnectionClosed:
        pass
    finally:
        members.discard(ws)


async def main(port: int | None, fd: int | None) -> None:
    # a listen backlog as deep as the bench's own socket's: a join storm must not overflow it
    options = dict(compression=None, ping_interval=None, backlog=2048)
    if fd is not None:
        sock = socket.socket(fileno=fd)  # the family and type are read from the socket
        server = serve(handler, sock=sock, **options)
    else:
        server = serve(handler, "127.0.0.1", port, **options)
    async with server as s:
        await s.serve_forever()


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m bench.floor")
    p.add_argument("--port", type=int)
    p.add_argument("--fd", type=int)
    a = p.parse_args()
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        runner.run(main(a.port, a.fd))
