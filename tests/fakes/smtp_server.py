"""A small SMTP server on loopback that accepts every message and keeps it, for delivery tests.

It speaks just enough of RFC 5321 for ``smtplib`` (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP,
QUIT); it never offers STARTTLS, so it is the plain relay a local test needs. With ``auth`` it
offers AUTH PLAIN and keeps the credentials it was given; with ``silent`` it accepts connections
and never says a word, like a host that swallows packets.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message


@dataclass
class Delivery:
    sender: str
    recipients: list[str]
    message: Message


@dataclass
class FakeSmtp:
    deliveries: list[Delivery] = field(default_factory=list)
    auth: bool = False
    silent: bool = False
    logins: list[tuple[str, str]] = field(default_factory=list)
    sessions: int = 0
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _server: asyncio.Server | None = None

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def say(line: str) -> None:
            writer.write(f"{line}\r\n".encode())

        self.sessions += 1
        if self.silent:
            await reader.read()  # until the client gives up
            writer.close()
            return
        sender = ""
        recipients: list[str] = []
        say("220 fake-smtp ready")
        while line := (await reader.readline()).decode().rstrip("\r\n"):
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                say("250-fake-smtp\r\n250 AUTH PLAIN" if self.auth else "250 fake-smtp")
            elif verb == "AUTH" and self.auth:
                _, user, password = base64.b64decode(line.split()[2]).decode().split("\0")
                self.logins.append((user, password))
                say("235 accepted")
            elif verb == "MAIL":
                sender, recipients = line.split(":", 1)[1].strip(" <>"), []
                say("250 ok")
            elif verb == "RCPT":
                recipients.append(line.split(":", 1)[1].strip(" <>"))
                say("250 ok")
            elif verb == "DATA":
                say("354 end with <CRLF>.<CRLF>")
                await writer.drain()
                body = b""
                while (chunk := await reader.readline()) not in (b".\r\n", b""):
                    body += chunk[1:] if chunk.startswith(b"..") else chunk
                self.deliveries.append(Delivery(sender, recipients, message_from_bytes(body)))
                say("250 queued")
            elif verb == "QUIT":
                say("221 bye")
                await writer.drain()
                break
            else:  # RSET, NOOP and anything else
                say("250 ok")
            await writer.drain()
        writer.close()

    def start(self) -> FakeSmtp:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop

            async def serve() -> None:
                self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
                self.port = self._server.sockets[0].getsockname()[1]
                ready.set()
                await self._server.serve_forever()

            try:
                loop.run_until_complete(serve())
            except asyncio.CancelledError:
                pass
            finally:
                loop.close()

        threading.Thread(target=run, daemon=True).start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
