"""HTTP/1.1 over one kept-alive socket: what a one-shot command needs, and nothing more.

``http.client`` loads the ``email`` package to parse headers (~15 ms of every command's start);
our requests are small and our answers have a ``Content-Length`` or are chunked, so this reads
them directly. The peer may be anything at a mistyped address: every line, the header block
and a chunk size are bounded, and what cannot be parsed is ``BadAnswer``, never a hang on a
length that will not come (the socket's timeout still applies).
"""

from __future__ import annotations

import socket
from typing import BinaryIO

MAX_LINE = 65536
MAX_HEADERS = 100


class BadAnswer(Exception):
    """What came back is not an HTTP/1.x answer we can read."""


class PeerClosed(ConnectionError):
    """The connection ended before an answer began (a kept-alive one the server closed)."""


class Answer:
    """A status line, lower-cased header names and the whole body."""

    def __init__(self, status: int, reason: str, headers: dict[str, str], content: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.content = content
        self.keep_alive = True


def request_bytes(
    method: str, target: str, host: str, headers: dict[str, str], body: bytes | None
) -> bytes:
    """The request as it goes on the wire."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def _line(reader: BinaryIO) -> bytes:
    line = reader.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise BadAnswer("a line of the answer is too long")
    return line


def _chunked(reader: BinaryIO) -> bytes:
    parts: list[bytes] = []
    while True:
        size_text = _line(reader).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BadAnswer("a chunk size is not a number") from None
        if size < 0:
            raise BadAnswer("a chunk size is negative")
        if size == 0:
            while _line(reader) not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(parts)
        chunk = reader.read(size)
        if len(chunk) < size:
            raise BadAnswer("the answer ended inside a chunk")
        parts.append(chunk)
        _line(reader)  # the CRLF after the chunk


def read_answer(reader: BinaryIO, method: str) -> Answer:
    """One answer from ``reader``; ``PeerClosed`` when the peer closed before sending any."""
    status_line = _line(reader)
    if not status_line:
        raise PeerClosed("the server closed the connection without answering")
    version, _, rest = status_line.decode("latin-1").rstrip("\r\n").partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise BadAnswer(f"not an HTTP answer: {status_line[:40]!r}")
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS + 1):
        line = _line(reader)
        if line in (b"\r\n", b"\n", b""):
            break
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            raise BadAnswer("a header line without a colon")
        headers[name.strip().lower()] = value.strip()
    else:
        raise BadAnswer("too many header lines")
    status = int(code)
    length = headers.get("content-length")
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        content = b""
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        content = _chunked(reader)
    elif length is not None:
        if not length.isdigit():
            raise BadAnswer(f"Content-Length {length!r} is not a number")
        content = reader.read(int(length))
        if len(content) < int(length):
            raise BadAnswer("the answer ended before its Content-Length")
    else:
        content = reader.read()  # delimited by the end of the connection
        headers["connection"] = "close"
    answer = Answer(status, reason, headers, content)
    answer.keep_alive = version != "HTTP/1.0" and (headers.get("connection", "").lower() != "close")
    return answer


def exchange(sock: socket.socket, reader: BinaryIO, data: bytes, method: str) -> Answer:
    """Send one request and read its answer on an open connection."""
    sock.sendall(data)
    return read_answer(reader, method)
