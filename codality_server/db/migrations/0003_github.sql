-- 0003: GitHub pull requests, their check runs and comments, and the webhook delivery log.
CREATE TABLE pull_requests (
    id               INTEGER PRIMARY KEY,
    ticket_id        INTEGER NOT NULL UNIQUE REFERENCES tickets(id) ON DELETE CASCADE,
    project_id       INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    owner            TEXT NOT NULL COLLATE NOCASE,
    repo             TEXT NOT NULL COLLATE NOCASE,
    number           INTEGER NOT NULL,
    url              TEXT NOT NULL,
    title            TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('open', 'closed', 'merged')),
    head_branch      TEXT NOT NULL,
    head_sha         TEXT NOT NULL,
    base_branch      TEXT NOT NULL,
    review_state     TEXT NOT NULL DEFAULT 'pending'
                     CHECK (review_state IN ('pending', 'approved', 'changes_requested')),
    checks_passed    INTEGER NOT NULL DEFAULT 0,
    checks_failed    INTEGER NOT NULL DEFAULT 0,
    checks_pending   INTEGER NOT NULL DEFAULT 0,
    auto_retry_count INTEGER NOT NULL DEFAULT 0,
    ci_handled_sha   TEXT,
    merged_sha       TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    closed_at        TEXT,
    UNIQUE (owner, repo, number)
);
CREATE INDEX pull_requests_project ON pull_requests(project_id, number);

CREATE TABLE pr_check_runs (
    id           INTEGER PRIMARY KEY,
    pr_id        INTEGER NOT NULL REFERENCES pull_requests(id) ON DELETE CASCADE,
    github_id    INTEGER NOT NULL,
    head_sha     TEXT NOT NULL,
    name         TEXT NOT NULL,
    status       TEXT NOT NULL,
    conclusion   TEXT,
    app          TEXT NOT NULL DEFAULT '',
    title        TEXT NOT NULL DEFAULT '',
    details_url  TEXT NOT NULL DEFAULT '',
    updated_at   TEXT NOT NULL,
    UNIQUE (pr_id, github_id)
);
CREATE INDEX pr_check_runs_head ON pr_check_runs(pr_id, head_sha);

CREATE TABLE pr_comments (
    id          INTEGER PRIMARY KEY,
    pr_id       INTEGER NOT NULL REFERENCES pull_requests(id) ON DELETE CASCADE,
    github_id   INTEGER NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('issue', 'review', 'review_comment')),
    author      TEXT NOT NULL,
    body        TEXT NOT NULL,
    state       TEXT,
    path        TEXT,
    line        INTEGER,
    url         TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    synced_at   TEXT NOT NULL,
    UNIQUE (kind, github_id)
);
CREATE INDEX pr_comments_pr ON pr_comments(pr_id, created_at);

CREATE TABLE webhook_events (
    id            INTEGER PRIMARY KEY,
    delivery_id   TEXT NOT NULL,
    event         TEXT NOT NULL,
    action        TEXT,
    repository    TEXT,
    project_id    INTEGER REFERENCES projects(id) ON DELETE SET NULL,
    status        TEXT NOT NULL
                  CHECK (status IN ('received', 'processed', 'ignored', 'skipped', 'failed')),
    result        TEXT NOT NULL DEFAULT '',
    received_at   TEXT NOT NULL,
    processed_at  TEXT
);
CREATE INDEX webhook_events_delivery ON webhook_events(delivery_id);
CREATE INDEX webhook_events_project ON webhook_events(project_id, id);
