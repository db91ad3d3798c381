-- The history of reconciliation runs: one row per run, one per drift item, and what each run
-- learned or could not use.

CREATE TABLE reconcile_runs (
    run_id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant            text        NOT NULL,
    -- `all`, `current`, or `periods:1,2,3`: runs are compared only with runs of the same scope.
    scope             text        NOT NULL,
    started_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    -- `running` until the run ends; a run that never ended (killed) stays so and is never taken
    -- as complete.
    status            text        NOT NULL DEFAULT 'running'
                      CHECK (status IN ('running', 'ok', 'drift', 'incomplete', 'failed')),
    missed_creates    integer     NOT NULL DEFAULT 0,
    missed_updates    integer     NOT NULL DEFAULT 0,
    missed_deletes    integer     NOT NULL DEFAULT 0,
    stale_deletes     integer     NOT NULL DEFAULT 0,
    new_items         integer     NOT NULL DEFAULT 0,
    persisting_items  integer     NOT NULL DEFAULT 0,
    resolved_items    integer     NOT NULL DEFAULT 0,
    in_sync           integer     NOT NULL DEFAULT 0,
    in_flight         integer     NOT NULL DEFAULT 0,
    unverified        integer     NOT NULL DEFAULT 0,
    out_of_scope      integer     NOT NULL DEFAULT 0,
    periods_total     integer     NOT NULL DEFAULT 0,
    periods_failed    integer     NOT NULL DEFAULT 0,
    remote_enrollments integer    NOT NULL DEFAULT 0,
    events_read       bigint      NOT NULL DEFAULT 0,
    events_skipped    bigint      NOT NULL DEFAULT 0,
    events_unusable   bigint      NOT NULL DEFAULT 0,
    events_unsigned   bigint      NOT NULL DEFAULT 0,
    api_calls         integer     NOT NULL DEFAULT 0,
    api_retries       integer     NOT NULL DEFAULT 0,
    options           jsonb       NOT NULL DEFAULT '{}',
    error             text
);

CREATE INDEX reconcile_runs_tenant_scope ON reconcile_runs (tenant, scope, run_id DESC);

CREATE TABLE drift_items (
    run_id            bigint      NOT NULL REFERENCES reconcile_runs ON DELETE CASCADE,
    student_period_id bigint      NOT NULL,
    kind              text        NOT NULL
                      CHECK (kind IN ('missed_create', 'missed_update', 'missed_delete', 'stale_delete')),
    period_id         bigint,
    period_name       text,
    student_id        bigint,
    student_name      text,
    student_email     text,
    student_status    text,
    changed_fields    text,
    local_student_id  bigint,
    local_active      boolean,
    local_added_at    text,
    remote_student_id bigint,
    remote_active     boolean,
    remote_added_at   text,
    last_event_id     uuid,
    last_event_type   text,
    last_event_at     timestamptz,
    -- The first run of the same scope that saw this drift, this one included.
    first_seen_run    bigint      NOT NULL,
    PRIMARY KEY (run_id, student_period_id)
);

-- Stored events a run left out of its fold: `data` lacks a field or has one of the wrong type,
-- or the signature did not verify.
CREATE TABLE run_skipped_events (
    run_id   bigint NOT NULL REFERENCES reconcile_runs ON DELETE CASCADE,
    event_id uuid   NOT NULL,
    reason   text   NOT NULL,
    PRIMARY KEY (run_id, event_id)
);

-- Each period a run tried to read, and how that went.
CREATE TABLE run_periods (
    run_id      bigint NOT NULL REFERENCES reconcile_runs ON DELETE CASCADE,
    period_id   bigint NOT NULL,
    period_name text,
    read_ok     boolean NOT NULL,
    enrollments integer,
    error       text,
    PRIMARY KEY (run_id, period_id)
);

-- The webhook payload names no period: which period each enrollment belongs to is learned from
-- every roster read.
CREATE TABLE enrollment_periods (
    tenant            text        NOT NULL,
    student_period_id bigint      NOT NULL,
    period_id         bigint      NOT NULL,
    seen_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, student_period_id)
);
