"""Outgoing mail: SMTP when ``SMTP_HOST`` is configured, else a file per message in the outbox.

The outbox is what lets the CLI finish a local login by itself, and what a user reads when no mail
server is set up.

Sending is split in two so that a caller can do the same work whatever the recipient: ``open_mail``
does everything before a message (for SMTP: connect, STARTTLS, sign in) and fails fast with
``Unavailable``; ``Draft.deliver`` or ``Draft.discard`` finishes. ``SMTP_TLS`` is ``starttls`` (the
default: upgrade when offered, and never send a password without it), ``tls`` (TLS from the first
byte, port 465) or ``off`` (plain text, password included: an explicit choice).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import smtplib
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from codality_server.domain.errors import Unavailable
from codality_server.secrets_store import write_private

log = logging.getLogger("codality.mail")

SMTP_TIMEOUT_S = 5.0
TLS_MODES = ("starttls", "tls", "off")


def compose(env: Mapping[str, str], to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = env.get("SMTP_FROM") or "codality@localhost"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


def _smtp_address(env: Mapping[str, str]) -> tuple[str, int, str]:
    mode = (env.get("SMTP_TLS") or "starttls").strip().lower()
    if mode not in TLS_MODES:
        raise Unavailable(f"SMTP_TLS must be one of {', '.join(TLS_MODES)}; it is {mode!r}")
    raw_port = (env.get("SMTP_PORT") or "").strip()
    if not raw_port:
        return env["SMTP_HOST"], 465 if mode == "tls" else 587, mode
    if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
        raise Unavailable(f"SMTP_PORT must be a port number; it is {raw_port!r}")
    return env["SMTP_HOST"], int(raw_port), mode


def _connect(env: Mapping[str, str], timeout: float) -> smtplib.SMTP:
    """A session ready for MAIL FROM: connected, secured as ``SMTP_TLS`` asks, signed in."""
    host, port, mode = _smtp_address(env)
    where = f"{host}:{port}"
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP
        if mode == "tls":
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        try:
            smtp.ehlo()
            secure = mode == "tls"
            if mode == "starttls" and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
                secure = True
            if env.get("SMTP_USER"):
                if not secure and mode != "off":
                    raise Unavailable(
                        f"the mail server {where} offers no STARTTLS, so the SMTP password would"
                        " go in clear: refused. Use a server with TLS (or SMTP_TLS=tls), or set"
                        " SMTP_TLS=off to send it unencrypted anyway"
                    )
                smtp.login(env["SMTP_USER"], env.get("SMTP_PASSWORD", ""))
        except BaseException:
            smtp.close()
            raise
    except (OSError, smtplib.SMTPException) as exc:
        # OSError covers refused and unreachable hosts, timeouts and TLS failures.
        log.warning("mail server %s unusable: %s: %s", where, type(exc).__name__, exc)
        raise Unavailable(
            f"the mail server {where} could not be used ({type(exc).__name__}); no sign-in code"
            " can be sent now. Check SMTP_HOST, SMTP_PORT, SMTP_TLS and the credentials"
            " (`codality settings env`)"
        ) from None
    return smtp


@dataclass
class Draft:
    """A message ready to go: an open SMTP session, or the outbox."""

    message: EmailMessage
    smtp: smtplib.SMTP | None
    outbox: Path

    def deliver(self) -> str:
        """Send it; returns where it went (``smtp`` or the outbox file's path)."""
        if self.smtp is not None:
            try:
                self.smtp.send_message(self.message)
            finally:
                self._quit()
            log.info("mail to %s sent over SMTP", self.message["To"])
            return "smtp"
        path = self.outbox / self._file_name()
        write_private(path, self.message.as_string())
        log.info("mail to %s written to %s (no SMTP_HOST configured)", self.message["To"], path)
        return str(path)

    def discard(self) -> None:
        """End without sending, after the same work ``deliver`` does up to its last step."""
        if self.smtp is not None:
            self._quit()
            return
        # The same write, beside the outbox (which readers list), then gone.
        scratch = self.outbox.parent / f".discard-{secrets.token_hex(4)}-{self._file_name()}"
        write_private(scratch, self.message.as_string())
        os.unlink(scratch)

    def _file_name(self) -> str:
        # An address may be 254 characters; a file name only 255 bytes.
        to = re.sub(r"[^A-Za-z0-9@._-]", "_", str(self.message["To"]))[:100]
        return f"{time.time_ns()}-{to}.eml"

    def _quit(self) -> None:
        assert self.smtp is not None
        try:
            self.smtp.quit()
        except (OSError, smtplib.SMTPException):
            self.smtp.close()


def open_mail(
    outbox: Path, env: Mapping[str, str], message: EmailMessage, timeout: float = SMTP_TIMEOUT_S
) -> Draft:
    """Everything before sending ``message`` (blocking: run it in a thread)."""
    smtp = _connect(env, timeout) if env.get("SMTP_HOST") else None
    return Draft(message, smtp, outbox)
