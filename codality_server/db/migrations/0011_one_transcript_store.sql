-- 0011: one transcript store. A discovery reply is an agent session (owned by its conversation,
-- linked from the message by session_id), so its blocks become that session's transcript
-- blocks, stored like every other session's; conversation_blocks goes. A user's message is no
-- session's transcript: its text moves to conversation_messages.content.
--
-- A message no session wrote (a user's; a reply that never started, which has no blocks) keeps
-- the text of its text block. Every reply with blocks has its session (a reply's session goes
-- only with its conversation, and the messages with it); its blocks are copied in their order,
-- after the blocks the session already had (retries, history cuts, its end), with new ids.
ALTER TABLE conversation_messages ADD COLUMN content TEXT NOT NULL DEFAULT '';

UPDATE conversation_messages
SET content = coalesce(
    (SELECT group_concat(json_extract(b.data, '$.text'), '') FROM conversation_blocks b
     WHERE b.message_id = conversation_messages.id AND b.kind = 'text'),
    '')
WHERE session_id IS NULL OR session_id NOT IN (SELECT id FROM agent_sessions);

INSERT INTO transcript_blocks(session_id, kind, data, created_at)
SELECT m.session_id, b.kind, b.data, b.created_at
FROM conversation_blocks b JOIN conversation_messages m ON m.id = b.message_id
WHERE m.session_id IN (SELECT id FROM agent_sessions)
ORDER BY b.id;

DROP INDEX conversation_blocks_message;
DROP TABLE conversation_blocks;
