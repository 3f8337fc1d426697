-- The files of a merge diff whose patch text was too large to keep (git/diff.py's limits), as a
-- JSON list of {path, status, binary, insertions, deletions, reason, message}. Rows from before
-- this migration kept every file's text: none is missing.
ALTER TABLE merge_diffs ADD COLUMN not_shown TEXT NOT NULL DEFAULT '[]';
