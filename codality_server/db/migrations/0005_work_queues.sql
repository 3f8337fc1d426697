-- 0005: work queues (product.md §8) — ordered tickets the agent works through, and how each went.
CREATE TABLE work_queues (
    id            INTEGER PRIMARY KEY,
    project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'running', 'paused', 'completed', 'cancelled')),
    merge_each    INTEGER NOT NULL DEFAULT 0,
    max_parallel  INTEGER NOT NULL DEFAULT 1 CHECK (max_parallel >= 1),
    reason        TEXT,
    created_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    started_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    started_at    TEXT,
    ended_at      TEXT
);
CREATE INDEX work_queues_project ON work_queues(project_id, id);
CREATE INDEX work_queues_status ON work_queues(status);

CREATE TABLE work_queue_items (
    id          INTEGER PRIMARY KEY,
    queue_id    INTEGER NOT NULL REFERENCES work_queues(id) ON DELETE CASCADE,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'running', 'done', 'failed', 'skipped')),
    -- The item's latest agent session. No foreign key: sessions go only with their ticket (and
    -- then so does the item), and a rebuild of the sessions table must never touch this column.
    session_id  INTEGER,
    error       TEXT,
    started_at  TEXT,
    ended_at    TEXT,
    UNIQUE (queue_id, ticket_id)
);
CREATE INDEX work_queue_items_queue ON work_queue_items(queue_id, position);
CREATE INDEX work_queue_items_ticket ON work_queue_items(ticket_id);
CREATE INDEX work_queue_items_session ON work_queue_items(session_id);
