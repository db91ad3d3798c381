-- What `explain` needs to answer "why" later, without keeping every in-sync row: for each drift
-- item, whether the run's first and confirming reads of its period listed it, and what the
-- latest backfill of the run decided for it (and why); for each period, how its confirming read
-- went. Columns without a default rewrite nothing; earlier runs keep NULL ("not recorded").
ALTER TABLE drift_items
    ADD COLUMN in_first_read      boolean,
    ADD COLUMN in_confirming_read boolean,
    -- stored, already_stored, skipped_newer_event or held.
    ADD COLUMN backfill_decision  text,
    -- The guard and its limit for a held item, the newer event for a skipped one.
    ADD COLUMN backfill_reason    text,
    ADD COLUMN backfill_event_id  uuid;

-- true: read whole a second time; false: the second read failed; NULL: not read twice.
ALTER TABLE run_periods ADD COLUMN confirming_read boolean;
