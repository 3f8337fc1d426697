-- A delivery's body is kept until its work is done, so a server stopped (or killed) between the
-- answer and the work runs it at the next start; started_at tells a delivery whose work had
-- begun (not run twice: it is marked failed) from one that was still waiting (run again).
ALTER TABLE webhook_events ADD COLUMN payload BLOB;
ALTER TABLE webhook_events ADD COLUMN started_at TEXT;
