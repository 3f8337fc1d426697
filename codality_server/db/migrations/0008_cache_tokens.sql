-- Prompt caching bills input three ways: uncached, written to the cache (1.25x) and read from it
-- (0.1x). tokens_in stays every input token; these two say how much of it was cache writes and
-- reads (runs before this version: 0, their input was all billed uncached).
ALTER TABLE agent_sessions ADD COLUMN tokens_cache_write INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agent_sessions ADD COLUMN tokens_cache_read INTEGER NOT NULL DEFAULT 0;
