-- 0006: discovery conversations. A reply is stored block by block while it streams (text, tool
-- calls and their results, proposals), so a crash loses nothing that was shown; a reply a crash
-- cut off keeps status 'streaming' until start-up marks it 'interrupted'.
CREATE TABLE conversations (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    title       TEXT NOT NULL DEFAULT '',
    created_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX conversations_project ON conversations(project_id, id);

CREATE TABLE conversation_messages (
    id               INTEGER PRIMARY KEY,
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role             TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    status           TEXT NOT NULL DEFAULT 'complete'
                     CHECK (status IN ('complete', 'streaming', 'interrupted', 'cancelled',
                                       'failed')),
    error            TEXT,
    model            TEXT,
    tokens_in        INTEGER NOT NULL DEFAULT 0,
    tokens_out       INTEGER NOT NULL DEFAULT 0,
    cost_usd         REAL NOT NULL DEFAULT 0,
    -- The agent session that wrote a reply (its usage and how it ended), when there is one.
    session_id       INTEGER,
    created_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX conversation_messages_conversation ON conversation_messages(conversation_id, id);
CREATE INDEX conversation_messages_status ON conversation_messages(status);

-- kind: text {text} | tool_call {tool_use_id, name, input} | tool_result {tool_use_id, ok,
-- output} | action {action_id} | note {text}.
CREATE TABLE conversation_blocks (
    id          INTEGER PRIMARY KEY,
    message_id  INTEGER NOT NULL REFERENCES conversation_messages(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    data        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX conversation_blocks_message ON conversation_blocks(message_id, id);

-- A validated proposal waiting for the user; deciding it records who, when and what it made.
CREATE TABLE conversation_actions (
    id               INTEGER PRIMARY KEY,
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    message_id       INTEGER NOT NULL REFERENCES conversation_messages(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL CHECK (kind IN ('tickets', 'plan', 'queue', 'ticket_update')),
    proposal         TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'confirmed', 'rejected')),
    result           TEXT,
    decided_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    decided_at       TEXT,
    created_at       TEXT NOT NULL
);
CREATE INDEX conversation_actions_conversation ON conversation_actions(conversation_id, id);

-- A conversation's reply sessions go with it (as 0002 does for tickets).
CREATE TRIGGER conversations_sessions_delete AFTER DELETE ON conversations BEGIN
    DELETE FROM agent_sessions WHERE owner_kind = 'conversation' AND owner_id = old.id;
END;
