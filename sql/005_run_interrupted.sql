-- A run ended by a signal is `interrupted`; a run left `running` by a process that died (SIGKILL, a
-- lost host) is marked `abandoned` by the next run of its tenant, which holds the lock and so
-- knows nobody is running it.
ALTER TABLE reconcile_runs DROP CONSTRAINT reconcile_runs_status_check;
ALTER TABLE reconcile_runs ADD CONSTRAINT reconcile_runs_status_check
    CHECK (status IN ('running', 'ok', 'drift', 'incomplete', 'failed', 'interrupted', 'abandoned'));
