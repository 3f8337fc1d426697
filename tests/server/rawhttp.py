"""Raw HTTP over a socket, for requests no client library will send: a body split across TCP
segments with a pause between them, malformed request lines and headers."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def raw_request(url: str, parts: list[bytes], pause: float = 0.3) -> RawResponse:
    """Send ``parts`` as separate writes (``pause`` seconds apart, TCP_NODELAY so each leaves as
    its own segment) and read one response."""
    where = urlsplit(url)
    with socket.create_connection((where.hostname, where.port), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for index, part in enumerate(parts):
            if index:
                time.sleep(pause)
            sock.sendall(part)
        buffer = b""

        def more() -> bytes:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection mid-response")
            return chunk

        while True:  # interim 1xx answers (100 Continue) come before the final one
            while b"\r\n\r\n" not in buffer:
                buffer += more()
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            if status >= 200:
                break
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(buffer) < length:
            buffer += more()
    return RawResponse(status, headers, buffer[:length])


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    """The request line and headers (``Host`` and ``Connection: close`` added)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(*pieces: bytes) -> list[bytes]:
    """Each piece as one chunk of a chunked body, then the last chunk."""
    return [b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces] + [b"0\r\n\r\n"]
