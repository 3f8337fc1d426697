"""Outgoing mail: SMTP when ``SMTP_HOST`` is configured, else a file per message in the outbox.

The outbox is what lets the CLI finish a local login by itself, and what a user reads when no mail
server is set up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import smtplib
import time
from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path

from codality_server.secrets_store import write_private

log = logging.getLogger("codality.mail")


def _send_smtp(env: Mapping[str, str], message: EmailMessage) -> None:
    host = env["SMTP_HOST"]
    port = int(env.get("SMTP_PORT") or 587)
    with smtplib.SMTP(host, port, timeout=15) as smtp:
        if port != 25:
            with contextlib.suppress(smtplib.SMTPNotSupportedError):
                smtp.starttls()
        if env.get("SMTP_USER"):
            smtp.login(env["SMTP_USER"], env.get("SMTP_PASSWORD", ""))
        smtp.send_message(message)


async def send_mail(outbox: Path, env: Mapping[str, str], to: str, subject: str, body: str) -> str:
    """Deliver one message; returns where it went (``smtp`` or the outbox file's path)."""
    message = EmailMessage()
    message["From"] = env.get("SMTP_FROM") or "codality@localhost"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    if env.get("SMTP_HOST"):
        await asyncio.to_thread(_send_smtp, env, message)
        log.info("mail to %s sent over SMTP", to)
        return "smtp"
    safe = re.sub(r"[^A-Za-z0-9@._-]", "_", to)
    path = outbox / f"{time.time_ns()}-{safe}.eml"
    write_private(path, message.as_string())
    log.info("mail to %s written to %s (no SMTP_HOST configured)", to, path)
    return str(path)
