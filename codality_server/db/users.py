"""Users, login sessions and one-time passwords."""

from __future__ import annotations

from codality_server.domain.users import Role, User

from .database import Connection, Database, Row, fetchall, fetchone

_USER_COLUMNS = "id, email, name, role, git_name, git_email, created_at, updated_at"


def _user(row: Row) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        role=Role(row["role"]),
        git_name=row["git_name"],
        git_email=row["git_email"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def count_users(db: Database) -> int:
    row = await db.fetchone("SELECT count(*) AS n FROM users")
    return int(row["n"]) if row else 0


async def get_user(conn: Connection, user_id: int) -> User | None:
    row = await fetchone(conn, f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", (user_id,))
    return _user(row) if row else None


async def user_by_email(conn: Connection, email: str) -> User | None:
    row = await fetchone(conn, f"SELECT {_USER_COLUMNS} FROM users WHERE email = ?", (email,))
    return _user(row) if row else None


async def list_users(conn: Connection) -> list[User]:
    return [
        _user(r) for r in await fetchall(conn, f"SELECT {_USER_COLUMNS} FROM users ORDER BY id")
    ]


async def insert_user(conn: Connection, email: str, name: str, role: Role, now: str) -> User:
    row = await fetchone(
        conn,
        "INSERT INTO users(email, name, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
        f" RETURNING {_USER_COLUMNS}",
        (email, name, role.value, now, now),
    )
    assert row is not None
    return _user(row)


async def update_user(conn: Connection, user_id: int, now: str, **fields: object) -> User | None:
    allowed = {"name", "role", "git_name", "git_email"}
    assert set(fields) <= allowed, f"unexpected fields {set(fields) - allowed}"
    assignments = ", ".join(f"{name} = ?" for name in fields)
    row = await fetchone(
        conn,
        f"UPDATE users SET {assignments}, updated_at = ? WHERE id = ? RETURNING {_USER_COLUMNS}",
        (*fields.values(), now, user_id),
    )
    return _user(row) if row else None


async def delete_user(conn: Connection, user_id: int) -> bool:
    cur = await conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
    return cur.rowcount > 0


async def count_admins(conn: Connection) -> int:
    row = await fetchone(conn, "SELECT count(*) AS n FROM users WHERE role = 'admin'")
    return int(row["n"]) if row else 0


# --- login sessions -------------------------------------------------------------------------


async def insert_session(
    conn: Connection, user_id: int, token_hash: str, now: str, expires_at: str
) -> None:
    await conn.execute(
        "INSERT INTO auth_sessions(user_id, token_hash, created_at, expires_at) VALUES (?,?,?,?)",
        (user_id, token_hash, now, expires_at),
    )


async def session_user(conn: Connection, token_hash: str, now: str) -> tuple[User, str] | None:
    """The user of a live session and the session's expiry."""
    row = await fetchone(
        conn,
        f"SELECT {', '.join('u.' + c.strip() for c in _USER_COLUMNS.split(','))}, s.expires_at"
        " AS session_expires FROM auth_sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.token_hash = ? AND s.expires_at > ?",
        (token_hash, now),
    )
    return (_user(row), row["session_expires"]) if row else None


async def extend_session(conn: Connection, token_hash: str, expires_at: str) -> None:
    await conn.execute(
        "UPDATE auth_sessions SET expires_at = ? WHERE token_hash = ?", (expires_at, token_hash)
    )


async def delete_session(conn: Connection, token_hash: str) -> None:
    await conn.execute("DELETE FROM auth_sessions WHERE token_hash = ?", (token_hash,))


# --- one-time passwords ---------------------------------------------------------------------


async def count_otp_requests(conn: Connection, column: str, value: str, since: str) -> int:
    assert column in ("email", "client")
    row = await fetchone(
        conn,
        f"SELECT count(*) AS n FROM otp_requests WHERE {column} = ? AND created_at > ?",
        (value, since),
    )
    return int(row["n"]) if row else 0


async def oldest_otp_request(conn: Connection, column: str, value: str, since: str) -> str | None:
    assert column in ("email", "client")
    row = await fetchone(
        conn,
        f"SELECT min(created_at) AS t FROM otp_requests WHERE {column} = ? AND created_at > ?",
        (value, since),
    )
    return row["t"] if row else None


async def record_otp_request(conn: Connection, email: str, client: str, now: str) -> None:
    await conn.execute(
        "INSERT INTO otp_requests(email, client, created_at) VALUES (?, ?, ?)", (email, client, now)
    )


async def replace_otp(
    conn: Connection, email: str, code_hash: str, now: str, expires_at: str
) -> None:
    """Store a new code; earlier unused codes for the e-mail stop working."""
    await conn.execute(
        "UPDATE otp_codes SET used_at = ? WHERE email = ? AND used_at IS NULL", (now, email)
    )
    await conn.execute(
        "INSERT INTO otp_codes(email, code_hash, created_at, expires_at) VALUES (?, ?, ?, ?)",
        (email, code_hash, now, expires_at),
    )


async def live_otp(conn: Connection, email: str, now: str) -> Row | None:
    return await fetchone(
        conn,
        "SELECT id, code_hash, attempts FROM otp_codes"
        " WHERE email = ? AND used_at IS NULL AND expires_at > ? ORDER BY id DESC LIMIT 1",
        (email, now),
    )


async def count_failed_otp(conn: Connection, otp_id: int, used_at: str | None) -> None:
    """One more wrong try; ``used_at`` set retires the code."""
    await conn.execute(
        "UPDATE otp_codes SET attempts = attempts + 1, used_at = coalesce(?, used_at) WHERE id = ?",
        (used_at, otp_id),
    )


async def use_otp(conn: Connection, otp_id: int, now: str) -> None:
    await conn.execute("UPDATE otp_codes SET used_at = ? WHERE id = ?", (now, otp_id))
