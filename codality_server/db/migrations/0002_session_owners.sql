-- 0002: a session belongs to an owner (a ticket, a plan, a conversation or a queue item), names
-- the kind of agent that ran, and keeps the channels its events went to. Existing sessions are
-- the ticket agent's, on their ticket's and project's channels.
--
-- SQLite cannot relax ticket_id's NOT NULL in place, so both tables are rebuilt. The old ones
-- are renamed away first (the blocks' reference follows the rename), the new ones made under the
-- final names, rows copied with their ids, and the old ones dropped children first, so no
-- ON DELETE CASCADE ever fires on the copied rows.
DROP INDEX agent_sessions_ticket;
DROP INDEX agent_sessions_status;
DROP INDEX transcript_blocks_session;
ALTER TABLE agent_sessions RENAME TO agent_sessions_0001;
ALTER TABLE transcript_blocks RENAME TO transcript_blocks_0001;

CREATE TABLE agent_sessions (
    id           INTEGER PRIMARY KEY,
    owner_kind   TEXT NOT NULL
                 CHECK (owner_kind IN ('ticket', 'plan', 'conversation', 'queue_item')),
    owner_id     INTEGER NOT NULL,
    agent        TEXT NOT NULL,
    channels     TEXT NOT NULL DEFAULT '[]',
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
CREATE INDEX agent_sessions_owner ON agent_sessions(owner_kind, owner_id, id);
CREATE INDEX agent_sessions_status ON agent_sessions(status);

CREATE TABLE transcript_blocks (
    id          INTEGER PRIMARY KEY,
    session_id  INTEGER NOT NULL REFERENCES agent_sessions(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    data        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX transcript_blocks_session ON transcript_blocks(session_id, id);

INSERT INTO agent_sessions(id, owner_kind, owner_id, agent, channels, trigger, status, model,
                           sandbox, tokens_in, tokens_out, cost_usd, summary, error, started_by,
                           started_at, ended_at)
SELECT s.id, 'ticket', s.ticket_id, 'ticket',
       json_array('ticket:' || s.ticket_id, 'project:' || t.project_id),
       s.trigger, s.status, s.model, s.sandbox, s.tokens_in, s.tokens_out, s.cost_usd, s.summary,
       s.error, s.started_by, s.started_at, s.ended_at
FROM agent_sessions_0001 s JOIN tickets t ON t.id = s.ticket_id;

INSERT INTO transcript_blocks(id, session_id, kind, data, created_at)
SELECT id, session_id, kind, data, created_at FROM transcript_blocks_0001;

DROP TABLE transcript_blocks_0001;
DROP TABLE agent_sessions_0001;

-- An owner's sessions go with it. Tickets here; the migrations that add plans, conversations and
-- queues add the same trigger for theirs.
CREATE TRIGGER tickets_sessions_delete AFTER DELETE ON tickets BEGIN
    DELETE FROM agent_sessions WHERE owner_kind = 'ticket' AND owner_id = old.id;
END;
