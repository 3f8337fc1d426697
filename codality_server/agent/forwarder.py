"""Inside a bubblewrap sandbox: loopback ports that lead to the server's egress proxy.

The sandbox's network namespace has only its own loopback, so this script, run first
(``python -I -S forwarder.py --socket S --proxy-port P [--host-port N]… -- COMMAND…``), listens
on ``127.0.0.1:P`` (where ``HTTP(S)_PROXY`` point) and on each host port ``N``, then forks: the
child carries every connection to the proxy's unix socket, the parent ``exec``s the command.
A host port's connections are sent as ``CONNECT 127.0.0.1:N`` so they reach the host's own
(a database the tests use). The child dies with the sandbox's PID namespace when the command
ends. It imports the standard library only, for a fast start.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading

FAILED = 125


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
        target.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _carry(client: socket.socket, proxy_path: str, preamble: bytes) -> None:
    """One connection: to the proxy, through a CONNECT first for a host port."""
    with client, socket.socket(socket.AF_UNIX) as proxy:
        try:
            proxy.connect(proxy_path)
            if preamble:
                proxy.sendall(preamble)
                answer = b""
                while b"\r\n\r\n" not in answer and len(answer) < 16384:
                    chunk = proxy.recv(1)
                    if not chunk:
                        return
                    answer += chunk
                if not answer.startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            return
        back = threading.Thread(target=_pump, args=(proxy, client), daemon=True)
        back.start()
        _pump(client, proxy)
        back.join()


def _accept(listener: socket.socket, proxy_path: str, preamble: bytes) -> None:
    while True:
        client, _ = listener.accept()
        threading.Thread(target=_carry, args=(client, proxy_path, preamble), daemon=True).start()


def _listen(port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    return listener


def _serve(listeners: list[tuple[socket.socket, bytes]], proxy_path: str) -> None:
    """The forked child: nothing of the command's (its pipes would stay open), only the ports."""
    keep = {listener.fileno() for listener, _ in listeners}
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)
    threads = [
        threading.Thread(target=_accept, args=(listener, proxy_path, preamble), daemon=True)
        for listener, preamble in listeners
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    os._exit(0)


def main(argv: list[str]) -> int:
    proxy_path, proxy_port, host_ports = "", 0, []
    rest = list(argv)
    try:
        while rest and rest[0] != "--":
            flag, value = rest.pop(0), rest.pop(0)
            if flag == "--socket":
                proxy_path = value
            elif flag == "--proxy-port":
                proxy_port = int(value)
            elif flag == "--host-port":
                host_ports.append(int(value))
            else:
                raise ValueError(f"unexpected argument {flag!r}")
        command = rest[1:]
        if not (proxy_path and proxy_port and command):
            raise ValueError("--socket, --proxy-port and a command after -- are needed")
        listeners = [(_listen(proxy_port), b"")]
        for port in host_ports:
            preamble = f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
            listeners.append((_listen(port), preamble.encode()))
    except (ValueError, IndexError, OSError) as exc:
        print(f"codality sandbox (network): {exc}", file=sys.stderr)
        return FAILED
    if os.fork() == 0:
        _serve(listeners, proxy_path)
    for listener, _ in listeners:
        listener.close()
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        print(f"codality sandbox (network): cannot run {command[0]}: {exc}", file=sys.stderr)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
