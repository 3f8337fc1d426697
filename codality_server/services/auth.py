"""First-time setup, one-time-password login and login sessions (product.md §2)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from codality_server.db import users as db_users
from codality_server.db.database import MISSING, Connection
from codality_server.domain.errors import Conflict, InvalidInput, RateLimited, Unauthorized
from codality_server.domain.users import Role, User
from codality_server.secrets_store import write_private

from .base import Core, Service, now_iso
from .mail import compose, open_mail

if TYPE_CHECKING:
    from .settings import SettingsService

log = logging.getLogger("codality.auth")

SETUP_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L
SESSION_DAYS = 30
SESSION_SECONDS = SESSION_DAYS * 24 * 3600
OTP_MINUTES = 10
OTP_MAX_TRIES = 5
OTP_WINDOW_MINUTES = 15
OTP_MAX_REQUESTS = 5
OTP_SENT_MESSAGE = "If this e-mail belongs to a user, a sign-in code is on its way."
SETUP_MAX_TRIES = 5


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# A "dot-atom" address (RFC 5322): what every mail server takes and JSON Schema's ``email`` format
# accepts; quoted local parts and address literals are refused. At most 64 characters before the
# ``@`` and 254 in all (RFC 5321).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN = rf"^{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*$"
EMAIL_MAX = 254
_EMAIL = re.compile(EMAIL_PATTERN)


def normalise_email(email: str) -> str:
    email = email.strip()
    local, _, domain = email.rpartition("@")
    if len(email) > EMAIL_MAX or len(local) > 64 or not _EMAIL.fullmatch(email):
        raise InvalidInput(f"email: {email[:80]!r} is not an e-mail address", field="email")
    return f"{local}@{domain.lower()}"


class AuthService(Service):
    """Setup code, OTP codes and sessions; the only code that sees raw tokens."""

    def __init__(self, core: Core, *, settings: SettingsService) -> None:
        super().__init__(core)
        self.settings = settings
        self._pepper_bytes: bytes | None = None
        self._setup_failures = 0
        self._mail_tasks: set[asyncio.Task[None]] = set()

    def _pepper(self) -> bytes:
        if self._pepper_bytes is None:
            path = self.config.data_dir / "secret-key"
            if not path.exists():
                write_private(path, secrets.token_hex(32))
            self._pepper_bytes = path.read_text().strip().encode()
        return self._pepper_bytes

    def _code_hash(self, email: str, code: str) -> str:
        return hmac.new(self._pepper(), f"{email}:{code}".encode(), hashlib.sha256).hexdigest()

    async def stop(self) -> None:
        """Let mail still being sent finish (each step is bounded by the SMTP timeout)."""
        if self._mail_tasks:
            await asyncio.wait(self._mail_tasks, timeout=self.config.smtp_timeout_s * 3)

    # --- setup ---------------------------------------------------------------------------

    async def setup_required(self) -> bool:
        return await db_users.count_users(self.db) == 0

    async def ensure_setup_code(self) -> None:
        """With no users yet, make (or keep) the setup code and log it."""
        path = self.config.setup_code_path
        if not await self.setup_required():
            if path.exists():
                path.unlink()
            return
        if not path.exists():
            self._new_setup_code()
        log.warning(
            "first-time setup: the setup code is %s (also in %s)",
            path.read_text().strip(),
            path,
        )

    def _new_setup_code(self) -> None:
        code = "".join(secrets.choice(SETUP_ALPHABET) for _ in range(8))
        write_private(self.config.setup_code_path, code + "\n")
        self._setup_failures = 0

    async def verify_setup(self, code: str, email: str, name: str | None) -> tuple[User, str]:
        """Create the first admin from the setup code; returns the user and a session token."""
        email = normalise_email(email)
        path = self.config.setup_code_path
        async with self.db.transaction() as conn:
            if await db_users.list_users(conn):
                raise Conflict("setup is already complete")
            expected = path.read_text().strip() if path.exists() else ""
            if not expected or not hmac.compare_digest(
                code.strip().upper().encode(), expected.encode()
            ):
                raise self._wrong_setup_code()
            now = now_iso()
            user = await db_users.insert_user(
                conn, email, (name or "").strip() or email.split("@")[0], Role.ADMIN, now
            )
            token = await self._new_session(conn, user.id)
        path.unlink(missing_ok=True)
        return user, token

    def _wrong_setup_code(self) -> Unauthorized:
        """Count a wrong code; the ``SETUP_MAX_TRIES``-th replaces it, as five wrong tries
        retire a sign-in code, so guessing never gets more than five tries at one code."""
        self._setup_failures += 1
        left = SETUP_MAX_TRIES - self._setup_failures
        if left > 0:
            return Unauthorized(f"wrong setup code ({left} tries left before it is replaced)")
        self._new_setup_code()
        path = self.config.setup_code_path
        log.warning(
            "first-time setup: %d wrong setup codes; the new code is %s (also in %s)",
            SETUP_MAX_TRIES,
            path.read_text().strip(),
            path,
        )
        return Unauthorized(
            f"wrong setup code, {SETUP_MAX_TRIES} times: the code has been replaced; read the new"
            f" one from {path} or the server log"
        )

    # --- one-time passwords ----------------------------------------------------------------

    async def request_otp(self, email: str, client: str) -> str:
        """Send a code when the user exists; the answer never tells whether it does.

        Known and unknown addresses take the same path, so neither the status (a mail server that
        fails is a 503 for both) nor the time taken tells them apart: the code is hashed and
        stored for both (one never sent can never be used), the mail is composed and, over SMTP,
        the session opened and signed in for both; only its last step differs, delivering or
        dropping the message. Over SMTP that step runs after the answer; the outbox is written
        before it, as the CLI reads it next.
        """
        email = normalise_email(email)
        now = datetime.now(UTC)
        since = _iso(now - timedelta(minutes=OTP_WINDOW_MINUTES))
        code = f"{secrets.randbelow(10**6):06d}"
        code_hash = self._code_hash(email, code)
        env = await self.settings.env_values()
        message = compose(
            env,
            email,
            "Your Codality sign-in code",
            f"Your Codality sign-in code is {code}\n\nIt works once, for {OTP_MINUTES} minutes.\n",
        )
        async with self.db.transaction() as conn:
            for column, value in (("email", email), ("client", client)):
                if (
                    await db_users.count_otp_requests(conn, column, value, since)
                    >= OTP_MAX_REQUESTS
                ):
                    oldest = await db_users.oldest_otp_request(conn, column, value, since)
                    free_at = _parse(oldest or _iso(now)) + timedelta(minutes=OTP_WINDOW_MINUTES)
                    wait = max(1, int((free_at - now).total_seconds()) + 1)
                    raise RateLimited(
                        f"too many sign-in codes requested; try again in {wait} s", wait
                    )
            await db_users.record_otp_request(conn, email, client, _iso(now))
            user = await db_users.user_by_email(conn, email)
            expires = _iso(now + timedelta(minutes=OTP_MINUTES))
            await db_users.replace_otp(conn, email, code_hash, _iso(now), expires)
        draft = await asyncio.to_thread(
            open_mail, self.config.outbox_dir, env, message, self.config.smtp_timeout_s
        )
        finish: Callable[[], object] = draft.deliver if user is not None else draft.discard
        if draft.smtp is None:
            await asyncio.to_thread(finish)
        else:
            self._in_background(finish)
        return OTP_SENT_MESSAGE

    def _in_background(self, work: Callable[[], object]) -> None:
        async def run() -> None:
            try:
                await asyncio.to_thread(work)
            except Exception as exc:  # the answer is gone; the log is where this can go
                log.warning("finishing a sign-in mail failed: %s: %s", type(exc).__name__, exc)

        task = asyncio.get_running_loop().create_task(run())
        self._mail_tasks.add(task)
        task.add_done_callback(self._mail_tasks.discard)

    async def verify_otp(self, email: str, code: str) -> tuple[User, str]:
        email = normalise_email(email)
        now = now_iso()
        async with self.db.transaction() as conn:
            otp = await db_users.live_otp(conn, email, now)
            user = await db_users.user_by_email(conn, email)
            if otp is None or user is None:
                raise Unauthorized("the code is wrong or has expired; request a new one")
            if not hmac.compare_digest(otp["code_hash"], self._code_hash(email, code.strip())):
                retire = now if otp["attempts"] + 1 >= OTP_MAX_TRIES else None
                await db_users.count_failed_otp(conn, otp["id"], retire)
                failure = Unauthorized("the code is wrong or has expired; request a new one")
            else:
                await db_users.use_otp(conn, otp["id"], now)
                return user, await self._new_session(conn, user.id)
        raise failure

    # --- sessions ----------------------------------------------------------------------------

    async def _new_session(self, conn: Connection, user_id: int) -> str:
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        await db_users.insert_session(
            conn, user_id, token_hash(token), _iso(now), _iso(now + timedelta(days=SESSION_DAYS))
        )
        return token

    async def authenticate(self, token: str) -> User | None:
        """The user behind a session token; sessions slide forward at most once an hour.

        Every API request lands here, so the cached answer keeps the expiry as a timestamp.
        """
        # Keyed by the token itself (memory only), so a hit costs no hashing either.
        key = ("session", token)
        peeked = self.db.peek(key)
        found: tuple[User, float] | None = (
            await self.db.cached(key, lambda: self._session(token_hash(token)))
            if peeked is MISSING
            else peeked
        )
        if found is None:
            return None
        user, expires_at = found
        now = time.time()
        if expires_at <= now:
            return None
        if now + SESSION_SECONDS - expires_at > 3600:
            renewed = datetime.now(UTC) + timedelta(seconds=SESSION_SECONDS)
            async with self.db.transaction() as conn:
                await db_users.extend_session(conn, token_hash(token), _iso(renewed))
        return user

    async def _session(self, digest: str) -> tuple[User, float] | None:
        found = await db_users.session_user(self.db.reader, digest, _iso(datetime.now(UTC)))
        return None if found is None else (found[0], _parse(found[1]).timestamp())

    async def logout(self, token: str) -> None:
        async with self.db.transaction() as conn:
            await db_users.delete_session(conn, token_hash(token))

    @staticmethod
    def cookie_secure(app_url: str | None) -> bool:
        return bool(app_url and app_url.startswith("https://"))

    @staticmethod
    def session_max_age() -> int:
        return SESSION_SECONDS
