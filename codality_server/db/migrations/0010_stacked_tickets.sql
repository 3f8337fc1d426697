-- Stacked work: a ticket whose worktree branched from an unmerged dependency's branch names that
-- ticket (stacked_on) and the commit its branch started from (fork_sha), so its diff shows only
-- its own work and its merge brings the stack in order. Both are cleared with the worktree.
ALTER TABLE tickets ADD COLUMN stacked_on INTEGER REFERENCES tickets(id) ON DELETE SET NULL;
ALTER TABLE tickets ADD COLUMN fork_sha TEXT;
