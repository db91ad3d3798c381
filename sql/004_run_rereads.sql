-- What the run did about a DreamClass that changed while it was read: lists read again because
-- their pages disagreed, and missed deletes that a confirming read found present after all.
ALTER TABLE reconcile_runs
    ADD COLUMN roster_rereads     integer NOT NULL DEFAULT 0,
    ADD COLUMN changed_during_run integer NOT NULL DEFAULT 0;
