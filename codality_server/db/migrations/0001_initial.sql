-- 0001: users and auth, projects, tickets, comments, search, settings, agent sessions, reviews.
CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    email       TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name        TEXT NOT NULL DEFAULT '',
    role        TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    git_name    TEXT,
    git_email   TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE auth_sessions (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);
CREATE INDEX auth_sessions_user ON auth_sessions(user_id);

CREATE TABLE otp_codes (
    id          INTEGER PRIMARY KEY,
    email       TEXT NOT NULL COLLATE NOCASE,
    code_hash   TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);
CREATE INDEX otp_codes_email ON otp_codes(email);

CREATE TABLE otp_requests (
    id          INTEGER PRIMARY KEY,
    email       TEXT NOT NULL COLLATE NOCASE,
    client      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX otp_requests_email ON otp_requests(email, created_at);
CREATE INDEX otp_requests_client ON otp_requests(client, created_at);

CREATE TABLE projects (
    id              INTEGER PRIMARY KEY,
    slug            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    path            TEXT NOT NULL UNIQUE,
    default_branch  TEXT NOT NULL,
    protected_main  INTEGER NOT NULL DEFAULT 0,
    github_owner    TEXT,
    github_repo     TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE TABLE tickets (
    id             INTEGER PRIMARY KEY,
    project_id     INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    number         INTEGER NOT NULL,
    title          TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    kind           TEXT NOT NULL DEFAULT 'task',
    priority       TEXT NOT NULL DEFAULT 'medium',
    status         TEXT NOT NULL DEFAULT 'backlog',
    assignee       TEXT,
    branch         TEXT,
    worktree_path  TEXT,
    created_by     INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (project_id, number)
);
CREATE INDEX tickets_project_status ON tickets(project_id, status);

CREATE TABLE comments (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    author_id   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    author_kind TEXT NOT NULL DEFAULT 'user' CHECK (author_kind IN ('user', 'agent')),
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX comments_ticket ON comments(ticket_id, id);

-- Full-text search over title, description and the ticket's comments; rowid = tickets.id.
CREATE VIRTUAL TABLE ticket_search USING fts5(
    title, description, comments,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);
INSERT INTO ticket_search(ticket_search, rank) VALUES ('rank', 'bm25(10.0, 2.0, 1.0)');

CREATE TRIGGER tickets_search_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO ticket_search(rowid, title, description, comments)
    VALUES (new.id, new.title, new.description, '');
END;

CREATE TRIGGER tickets_search_update AFTER UPDATE OF title, description ON tickets BEGIN
    DELETE FROM ticket_search WHERE rowid = old.id;
    INSERT INTO ticket_search(rowid, title, description, comments)
    VALUES (new.id, new.title, new.description,
            coalesce((SELECT group_concat(body, char(10)) FROM comments WHERE ticket_id = new.id), ''));
END;

CREATE TRIGGER tickets_search_delete AFTER DELETE ON tickets BEGIN
    DELETE FROM ticket_search WHERE rowid = old.id;
END;

CREATE TRIGGER comments_search_insert AFTER INSERT ON comments BEGIN
    DELETE FROM ticket_search WHERE rowid = new.ticket_id;
    INSERT INTO ticket_search(rowid, title, description, comments)
    SELECT t.id, t.title, t.description,
           coalesce((SELECT group_concat(body, char(10)) FROM comments WHERE ticket_id = t.id), '')
    FROM tickets t WHERE t.id = new.ticket_id;
END;

CREATE TABLE settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE agent_sessions (
    id           INTEGER PRIMARY KEY,
    ticket_id    INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    trigger      TEXT NOT NULL,
    status       TEXT NOT NULL,
    model        TEXT NOT NULL,
    sandbox      TEXT NOT NULL DEFAULT 'none',
    tokens_in    INTEGER NOT NULL DEFAULT 0,
    tokens_out   INTEGER NOT NULL DEFAULT 0,
    cost_usd     REAL NOT NULL DEFAULT 0,
    summary      TEXT,
    error        TEXT,
    started_by   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    started_at   TEXT NOT NULL,
    ended_at     TEXT
);
CREATE INDEX agent_sessions_ticket ON agent_sessions(ticket_id, id);
CREATE INDEX agent_sessions_status ON agent_sessions(status);

CREATE TABLE transcript_blocks (
    id          INTEGER PRIMARY KEY,
    session_id  INTEGER NOT NULL REFERENCES agent_sessions(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    data        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX transcript_blocks_session ON transcript_blocks(session_id, id);

CREATE TABLE reviews (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    user_id     INTEGER REFERENCES users(id) ON DELETE SET NULL,
    state       TEXT NOT NULL CHECK (state IN ('approved', 'changes_requested', 'commented')),
    body        TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);
CREATE INDEX reviews_ticket ON reviews(ticket_id, id);

CREATE TABLE review_comments (
    id          INTEGER PRIMARY KEY,
    review_id   INTEGER NOT NULL REFERENCES reviews(id) ON DELETE CASCADE,
    path        TEXT NOT NULL,
    line        INTEGER NOT NULL,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE merge_diffs (
    ticket_id   INTEGER PRIMARY KEY REFERENCES tickets(id) ON DELETE CASCADE,
    strategy    TEXT NOT NULL,
    merged_sha  TEXT NOT NULL,
    diff        TEXT NOT NULL,
    stats       TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
