-- 0004: plans (markdown designs the model helps write, turned into tickets on approval) and the
-- dependencies between tickets (recorded by plan approval, respected by work queues).
CREATE TABLE plans (
    id              INTEGER PRIMARY KEY,
    project_id      INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    title           TEXT NOT NULL DEFAULT '',
    body            TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'approved')),
    -- JSON list of ticket drafts in implementation order; after approval each names its ticket.
    drafts          TEXT NOT NULL DEFAULT '[]',
    -- JSON list of the last round of model suggestions, and the body that round saw.
    suggestions     TEXT NOT NULL DEFAULT '[]',
    suggested_body  TEXT,
    -- JSON object of the last readiness check ({ready, explanation, missing, checked_at}).
    readiness       TEXT,
    created_by      INTEGER REFERENCES users(id) ON DELETE SET NULL,
    approved_by     INTEGER REFERENCES users(id) ON DELETE SET NULL,
    approved_at     TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX plans_project ON plans(project_id, id);

CREATE TABLE ticket_dependencies (
    ticket_id      INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    depends_on_id  INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    PRIMARY KEY (ticket_id, depends_on_id),
    CHECK (ticket_id <> depends_on_id)
);
CREATE INDEX ticket_dependencies_depends_on ON ticket_dependencies(depends_on_id);
