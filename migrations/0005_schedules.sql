-- 0005_schedules: scheduled operations (issue 5) and the record of their fires.
--
-- A schedule is a cron expression in an IANA time zone, or a one-off time
-- (run_at), that escher-scheduler turns into jobs of kind ops.run. The
-- scheduler only ever looks at next_fire_at: the API computes it when a
-- schedule is created or its timing changes, the scheduler advances it after
-- each fire, and NULL means "will not fire" (disabled, a one-off already
-- fired, or a cron expression with no fire left). schedules_due serves both
-- of the scheduler's queries (the due rows, and min(next_fire_at) to sleep
-- until) without scanning the table.
--
-- Exactly once: schedule_fires' primary key (schedule_id, fire_at) is the
-- fire. A scheduler inserts it ON CONFLICT DO NOTHING in the same transaction
-- as the job (whose idempotency key "schedule:<id>:<fire time>" says the same
-- thing a second time) and the advance of next_fire_at, so however many
-- schedulers run, each (schedule, fire time) makes one job or none.

CREATE TABLE schedules (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id          uuid NOT NULL REFERENCES tenants(id),
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- Exactly one of cron and run_at. cron is the text as the client gave it
    -- (validated by lib/cron before it is stored); run_at is a whole second.
    cron               text CHECK (cron IS NULL OR length(cron) BETWEEN 1 AND 200),
    run_at             timestamptz CHECK (run_at IS NULL OR run_at = date_trunc('second', run_at)),
    time_zone          text NOT NULL DEFAULT 'UTC'
                       CHECK (time_zone ~ '^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$'
                              AND length(time_zone) <= 64),
    -- An operation of the catalog (lib/ops); its parameters and target are
    -- documents the operation defines.
    operation          text NOT NULL CHECK (operation ~ '^[a-z0-9_.]{1,64}$'),
    params             jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(params) = 'object'),
    target             jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(target) = 'object'),
    dry_run            boolean NOT NULL DEFAULT false,
    enabled            boolean NOT NULL DEFAULT true,
    -- After downtime: skip missed fires, run the latest once, or run each,
    -- if at most missed_fire_window late.
    missed_fire_policy text NOT NULL DEFAULT 'run_once'
                       CHECK (missed_fire_policy IN ('skip', 'run_once', 'run_each')),
    missed_fire_window interval NOT NULL DEFAULT interval '1 hour'
                       CHECK (missed_fire_window BETWEEN interval '0' AND interval '7 days'),
    created_by         text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 320),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    next_fire_at       timestamptz,
    -- Written by the scheduler: the latest fire that made a job, and why a
    -- schedule stopped firing (an expression or zone it could not evaluate).
    last_fire_at       timestamptz,
    last_error         text,
    CHECK ((cron IS NULL) <> (run_at IS NULL)),
    CHECK (enabled OR next_fire_at IS NULL),
    UNIQUE (tenant_id, name),
    -- Lets schedule_fires reference (tenant_id, id): a fire can never point
    -- at another tenant's schedule.
    UNIQUE (tenant_id, id)
);

CREATE INDEX schedules_due ON schedules (next_fire_at)
    WHERE enabled AND next_fire_at IS NOT NULL;

CREATE TABLE schedule_fires (
    schedule_id uuid NOT NULL,
    fire_at     timestamptz NOT NULL,
    tenant_id   uuid NOT NULL REFERENCES tenants(id),
    -- NULL once the job is deleted (jobs keep the fire in their payload).
    job_id      uuid REFERENCES jobs(id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule_id, fire_at),
    FOREIGN KEY (tenant_id, schedule_id) REFERENCES schedules (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX schedule_fires_job ON schedule_fires (job_id) WHERE job_id IS NOT NULL;

-- A change that may make a schedule due sooner wakes the schedulers, which
-- LISTEN on escher_schedules (the payload is empty, so one transaction's many
-- rows make one notification). The scheduler's own advances are not
-- announced: it sets escher.scheduler for its transactions, and a fire time
-- it moves later never needs anyone to wake earlier. NOTIFY is delivered at
-- commit, so a woken scheduler always sees the row.
CREATE FUNCTION schedules_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('escher.scheduler', true) = 'on' THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify('escher_schedules', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER schedules_notify_insert AFTER INSERT ON schedules
    FOR EACH ROW WHEN (NEW.enabled AND NEW.next_fire_at IS NOT NULL)
    EXECUTE FUNCTION schedules_notify();
CREATE TRIGGER schedules_notify_update AFTER UPDATE OF next_fire_at, enabled ON schedules
    FOR EACH ROW WHEN (NEW.enabled AND NEW.next_fire_at IS NOT NULL
                       AND (NEW.next_fire_at IS DISTINCT FROM OLD.next_fire_at
                            OR NOT OLD.enabled))
    EXECUTE FUNCTION schedules_notify();

ALTER TABLE schedules ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedules FORCE ROW LEVEL SECURITY;
-- escher_tenant_id() (0001) reads '' as NULL, so an ended setting matches nothing.
CREATE POLICY tenant_isolation ON schedules
    USING (tenant_id = escher_tenant_id()) WITH CHECK (tenant_id = escher_tenant_id());

ALTER TABLE schedule_fires ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedule_fires FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON schedule_fires
    USING (tenant_id = escher_tenant_id()) WITH CHECK (tenant_id = escher_tenant_id());

-- The API manages schedules and reads their fires; only the scheduler (as
-- escher_worker, which sees every tenant) records fires.
GRANT SELECT, INSERT, UPDATE, DELETE ON schedules TO escher_api, escher_worker;
GRANT SELECT ON schedule_fires TO escher_api;
GRANT SELECT, INSERT, UPDATE, DELETE ON schedule_fires TO escher_worker;
