-- Synthetic events written by `backfill` to repair a run's drift, and their delivery to the
-- school's webhook endpoint. The event itself is in webhook_events (source 'backfill').

CREATE TABLE backfill_events (
    event_id          uuid        PRIMARY KEY REFERENCES webhook_events ON DELETE CASCADE,
    run_id            bigint      NOT NULL REFERENCES reconcile_runs,
    student_period_id bigint      NOT NULL,
    kind              text        NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    delivery_state    text        NOT NULL DEFAULT 'pending'
                      CHECK (delivery_state IN ('pending', 'delivered', 'failed')),
    attempts          integer     NOT NULL DEFAULT 0,
    last_error        text,
    delivered_at      timestamptz
);

CREATE INDEX backfill_events_run ON backfill_events (run_id, delivery_state);
