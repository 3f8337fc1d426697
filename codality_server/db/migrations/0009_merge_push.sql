-- A local merge's push to origin, reported on its ticket: push_state is 'pending' from the merge
-- until the push ends, then 'pushed', 'failed' (push_detail says why), 'not_pushed' (push off for
-- this merge or by setting) or 'no_remote'. Rows from before this migration have no state.
ALTER TABLE merge_diffs ADD COLUMN push_state TEXT;
ALTER TABLE merge_diffs ADD COLUMN push_detail TEXT;
ALTER TABLE merge_diffs ADD COLUMN push_branch TEXT;
ALTER TABLE merge_diffs ADD COLUMN pushed_at TEXT;
