-- What the backfill of a run held back for a person to look at: deletes over the mass-delete
-- guard's limit, and creates the mass-create guard suspects. `runs` shows them; 0 until a
-- backfill of the run says otherwise. Adding columns with a constant default rewrites nothing.
ALTER TABLE reconcile_runs ADD COLUMN held_deletes integer NOT NULL DEFAULT 0;
ALTER TABLE reconcile_runs ADD COLUMN held_creates integer NOT NULL DEFAULT 0;
