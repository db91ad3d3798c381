-- One copy of each event, typed at the door. The fold's fields of `data` become columns, written
-- by every writer from the envelope it has already parsed (ingest, the receiver, a backfill):
-- the enrollment (student-period) id, the student id, active, and addedAt as an instant. The body
-- stays, once, as the text that came; the jsonb copy goes.
--
-- This file only adds the columns and lets `payload` be NULL: catalog changes, no rewrite, no
-- scan. Rows stored before it keep their `payload` and NULL typed columns until `migrate`
-- converts them in batches (EventConversion: resumable, the receiver and runs go on meanwhile;
-- readers take typed columns where `payload` is NULL and the jsonb otherwise), then builds the
-- new index concurrently, drops the old one and the `payload` column, and creates the view
-- `webhook_events_json` for people who query by hand.
ALTER TABLE webhook_events
    ADD COLUMN student_period_id bigint,
    ADD COLUMN student_id        bigint,
    ADD COLUMN active            boolean,
    ADD COLUMN added_at          timestamptz;
ALTER TABLE webhook_events ALTER COLUMN payload DROP NOT NULL;
