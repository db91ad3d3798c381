-- The incremental fold. A run keeps each tenant's folded state (the winning event per enrollment)
-- and a horizon, and next time folds only the events stored since into it.
--
-- The horizon is a transaction id, not a sequence: an event whose transaction commits late has a
-- `seq` below events that committed before it, and a reader that remembered "up to seq N" would
-- skip it for ever. `inserted_xid` is the id of the transaction that stored the event. A run
-- reads in one REPEATABLE READ snapshot and keeps that snapshot's xmin as its horizon: every
-- transaction below it had ended when the run read, so all it stored was seen; the next run reads
-- the events with `inserted_xid >= horizon`, which takes in every transaction that was still
-- open (and re-reads a few events already folded, which changes nothing: the fold is a maximum).
--
-- Events stored before this migration have no `inserted_xid`: the first run after it folds every
-- event (its tenant has no horizon yet), and later runs never need them again. Adding the column
-- without a default rewrites nothing; the default applies to new rows only.
ALTER TABLE webhook_events ADD COLUMN inserted_xid bigint;
ALTER TABLE webhook_events ALTER COLUMN inserted_xid SET DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX webhook_events_tenant_xid ON webhook_events (tenant, inserted_xid);

-- The winning event of each enrollment, as the fold keeps it.
CREATE TABLE enrollment_states (
    tenant            text     NOT NULL,
    student_period_id bigint   NOT NULL,
    event_id          uuid     NOT NULL,
    -- 0 created, 1 updated, 2 deleted (the order that breaks a tie of event times).
    kind              smallint NOT NULL CHECK (kind BETWEEN 0 AND 2),
    event_millis      bigint   NOT NULL,
    -- NULL for a deleted enrollment.
    student_id        bigint,
    active            boolean,
    added_at          text,
    PRIMARY KEY (tenant, student_period_id)
);

-- Per tenant: the horizon the state is complete up to, and the run that kept it.
CREATE TABLE fold_checkpoints (
    tenant     text        PRIMARY KEY,
    horizon    bigint      NOT NULL,
    run_id     bigint,
    updated_at timestamptz NOT NULL DEFAULT now()
);
