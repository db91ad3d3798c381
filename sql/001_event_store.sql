-- The event store: every webhook DreamClass sent, as received, plus what could not be stored.
-- Migrations run with search_path set to the configured schema (default `dreamclass`), so no
-- name here is schema-qualified.

CREATE TABLE webhook_events (
    -- The envelope `id`. DreamClass re-sends an event with the same id, so it is the key.
    event_id        uuid PRIMARY KEY,
    tenant          text        NOT NULL,
    event_type      text        NOT NULL,
    -- The envelope `timestamp` (epoch milliseconds).
    event_time      timestamptz NOT NULL,
    signature       text,
    -- HMAC check of `signature` at the time it was stored; NULL when no secret was configured.
    signature_valid boolean,
    -- The whole envelope.
    payload         jsonb       NOT NULL,
    -- The raw body as received, when known.
    body            text,
    received_at     timestamptz NOT NULL DEFAULT now(),
    source          text        NOT NULL DEFAULT 'webhook'
                    CHECK (source IN ('webhook', 'ingest', 'backfill')),
    -- Increases with every insert, for readers that follow the table incrementally. (Unique by
    -- construction; a unique index on top would only slow every insert.)
    seq             bigint      GENERATED ALWAYS AS IDENTITY
);

-- The reconciliation reads a tenant's student-period events grouped by enrollment id; the
-- partial index serves "per tenant", "per event type" and "per enrollment" at once.
CREATE INDEX webhook_events_student_period
    ON webhook_events (tenant, ((payload -> 'data' -> 'id')), event_time)
    WHERE event_type LIKE 'STUDENT\_PERIOD\_%';
CREATE INDEX webhook_events_tenant_seq ON webhook_events (tenant, seq);

-- Input that could not be stored as an event: kept whole, with where it came from and why.
CREATE TABLE rejected_events (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- A file name, `<stdin>`, or the receiver that got it.
    source_name text        NOT NULL,
    line_number bigint,
    reason      text        NOT NULL,
    -- The exact bytes, which need not be valid UTF-8.
    raw         bytea       NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now()
);
