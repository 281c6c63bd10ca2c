#!/usr/bin/env python3
"""Print the brokers a Kafka cluster currently lists, using only the standard library.

Used by ops/services.sh to decide that the three-node test cluster is really formed
(every broker registered and unfenced with the KRaft controller), not just listening.

    python3 ops/kafka/brokers.py HOST:PORT [HOST:PORT ...]

Sends one Metadata request (v8, no topics) to the first address that answers and prints

    brokers=1,2,3 controller=2 cluster_id=Ab3...

(sorted node ids; `controller` is what the broker reports, -1 when unknown). Exit status:
0 on an answer, 1 when no address answered, 2 on bad usage.
"""

import socket
import struct
import sys

API_METADATA = 3
VERSION = 8  # last non-flexible version; supported by Kafka 2.4 .. 4.x
CORRELATION_ID = 0x5A5A


def _request() -> bytes:
    client_id = b"zzalu-services"
    header = struct.pack(">hhih", API_METADATA, VERSION, CORRELATION_ID, len(client_id)) + client_id
    # topics: empty array (= no topics, just brokers); allow_auto_topic_creation,
    # include_cluster_authorized_operations, include_topic_authorized_operations: false
    body = struct.pack(">i???", 0, False, False, False)
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def _read_exact(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(n)
        if not chunk:
            raise ConnectionError("connection closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str):
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return value

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        value = self.data[self.pos : self.pos + n].decode()
        self.pos += n
        return value


def metadata(host: str, port: int, timeout: float = 5.0):
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(_request())
        size = struct.unpack(">i", _read_exact(sock, 4))[0]
        r = _Reader(_read_exact(sock, size))
    if r.take(">i") != CORRELATION_ID:
        raise ValueError("unexpected correlation id")
    r.take(">i")  # throttle_time_ms
    brokers = []
    for _ in range(r.take(">i")):
        node_id = r.take(">i")
        r.string()  # host
        r.take(">i")  # port
        r.string()  # rack
        brokers.append(node_id)
    cluster_id = r.string()
    controller = r.take(">i")
    return sorted(brokers), controller, cluster_id


def main(argv):
    if not argv:
        print("usage: brokers.py HOST:PORT [HOST:PORT ...]", file=sys.stderr)
        return 2
    last_error = None
    for address in argv:
        host, _, port = address.rpartition(":")
        try:
            brokers, controller, cluster_id = metadata(host or "127.0.0.1", int(port))
        except (OSError, ValueError, struct.error) as exc:
            last_error = f"{address}: {exc}"
            continue
        print(
            f"brokers={','.join(map(str, brokers))} controller={controller} cluster_id={cluster_id}"
        )
        return 0
    print(f"no broker answered ({last_error})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
