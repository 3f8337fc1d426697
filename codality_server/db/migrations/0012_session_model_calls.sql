-- The model calls (turns) a session made, kept with its tokens and cost: a work queue's turn
-- budget (max_turns_per_queue) adds up its runs' turns. Runs before this version count 0.
ALTER TABLE agent_sessions ADD COLUMN model_calls INTEGER NOT NULL DEFAULT 0;
