"""The brokers a Kafka cluster lists, with the standard library only: one Metadata request.

ops/services.py uses it as its Kafka probe: a broker is ready when it answers, and a cluster is
formed when every running node is registered and unfenced with the KRaft controller.
"""

import socket
import struct

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
