"""The egress proxy: a sandboxed command's only way out when ``sandbox_network`` is on.

Under bubblewrap a command has its own network namespace with nothing but loopback; a forwarder
inside (``forwarder.py``) carries connections to this proxy through a unix socket bound into the
sandbox. Under Landlock TCP connects are allowed to this proxy's loopback port only. Either way
``HTTP(S)_PROXY`` points at it, so package installs and ``git clone https://…`` work, while the
server, every loopback, link-local and private address stay out of reach: the proxy resolves the
name itself, keeps only public addresses and connects to the one it checked (a name that resolves
elsewhere a moment later changes nothing). Loopback ports named by ``sandbox_host_ports`` (a
database the project's tests use) are the one exception, never a port this process listens on.

It speaks ``CONNECT host:port`` (HTTPS and any TCP) and plain HTTP with an absolute URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

HEAD_LIMIT = 16 * 1024
HEAD_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 15.0
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


class Refused(Exception):
    """Why a destination is out of the sandbox's reach (sent back as a 403)."""


def is_public(address: str) -> bool:
    """Whether an address is on the public internet (an IPv4-mapped IPv6 address counts as the
    IPv4 one): never loopback, private, link-local (cloud metadata), shared, multicast or
    reserved."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def own_listening_ports() -> set[int]:
    """The TCP ports this process listens on (the server's API among them), from ``/proc``."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/self/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            next(lines, None)
            for line in lines:
                fields = line.split()
                if len(fields) > 9 and fields[3] == "0A" and fields[9] in inodes:  # LISTEN
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@dataclass(frozen=True)
class EgressPolicy:
    """Where the proxy lets a sandboxed command connect."""

    host_ports: frozenset[int] = frozenset()

    async def vet(self, host: str, port: int) -> str:
        """The address to connect to for ``host:port``; raises ``Refused`` saying why not."""
        if not 0 < port < 65536:
            raise Refused(f"port {port} is not a TCP port")
        if host.lower() in LOOPBACK_NAMES:
            if port not in self.host_ports:
                raise Refused(
                    f"{host}:{port} is on this machine; the sandbox_host_ports setting names the "
                    "local ports the agent may reach"
                )
            if port in await asyncio.to_thread(own_listening_ports):
                raise Refused(f"{host}:{port} is the Codality server itself")
            return "::1" if ":" in host else "127.0.0.1"
        loop = asyncio.get_running_loop()
        try:
            found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise Refused(f"cannot resolve {host}: {exc}") from None
        addresses = [str(info[4][0]) for info in found]
        public = [a for a in addresses if is_public(a)]
        if not public:
            raise Refused(f"{host} is a local or private address ({', '.join(addresses)})")
        return public[0]


@dataclass(frozen=True)
class EgressAccess:
    """How a sandbox reaches the proxy: its unix socket (bubblewrap) or loopback port (Landlock),
    and the host ports to carry as they are."""

    socket_path: Path
    port: int
    host_ports: tuple[int, ...] = ()


def _target(method: str, target: str) -> tuple[str, int, str]:
    """(host, port, origin-form path) of a request line's target; ValueError when unusable."""
    if method == "CONNECT":
        host, _, port = target.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError("CONNECT needs host:port")
        return host.strip("[]"), int(port), ""
    url = urlsplit(target)
    if url.scheme != "http" or not url.hostname:
        raise ValueError("a plain HTTP request through the proxy needs an http:// URL")
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    return url.hostname, url.port or 80, path


class EgressProxy:
    """One proxy for every session of the server, started on first use."""

    def __init__(self) -> None:
        self.policy = EgressPolicy()
        self._folder: Path | None = None
        self._servers: list[asyncio.Server] = []
        self._access: EgressAccess | None = None
        self._lock = asyncio.Lock()
        self._connections: set[asyncio.Task[None]] = set()

    async def access(self, host_ports: Iterable[int]) -> EgressAccess:
        """Start the proxy if needed and apply the current ``sandbox_host_ports`` (never one this
        process listens on: under Landlock a host port is connected to directly)."""
        own = await asyncio.to_thread(own_listening_ports)
        ports = tuple(sorted(set(host_ports) - own))
        self.policy = EgressPolicy(frozenset(ports))
        async with self._lock:
            if self._access is None:
                self._folder = Path(tempfile.mkdtemp(prefix="codality-egress-"))
                path = self._folder / "proxy.sock"
                unix = await asyncio.start_unix_server(self._serve, str(path), limit=HEAD_LIMIT)
                tcp = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=HEAD_LIMIT)
                self._servers = [unix, tcp]
                self._access = EgressAccess(path, tcp.sockets[0].getsockname()[1])
        return EgressAccess(self._access.socket_path, self._access.port, ports)

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        self._servers, self._access = [], None
        if self._folder is not None:
            with contextlib.suppress(OSError):
                (self._folder / "proxy.sock").unlink()
                self._folder.rmdir()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._relay(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
        line, _, headers = head.partition(b"\r\n")
        parts = line.decode("latin-1").split(" ")
        try:
            if len(parts) != 3:
                raise ValueError("malformed request line")
            method, target, version = parts
            host, port, path = _target(method, target)
        except ValueError as exc:
            await _answer(writer, "400 Bad Request", str(exc))
            return
        try:
            address = await self.policy.vet(host, port)
        except Refused as exc:
            log.info("sandbox egress refused: %s", exc)
            await _answer(writer, "403 Forbidden", f"codality sandbox: {exc}")
            return
        try:
            upstream_reader, upstream = await asyncio.wait_for(
                asyncio.open_connection(address, port), CONNECT_TIMEOUT_S
            )
        except (OSError, TimeoutError) as exc:
            await _answer(writer, "502 Bad Gateway", f"cannot reach {host}:{port}: {exc}")
            return
        try:
            if method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                kept = [h for h in headers.split(b"\r\n") if not h.lower().startswith(b"proxy-")]
                upstream.write(f"{method} {path} {version}\r\n".encode("latin-1"))
                upstream.write(b"\r\n".join(kept))
            await asyncio.gather(_pipe(reader, upstream), _pipe(upstream_reader, writer))
        finally:
            upstream.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()


async def _answer(writer: asyncio.StreamWriter, status: str, reason: str) -> None:
    body = f"{reason}\n".encode()
    writer.write(
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()
