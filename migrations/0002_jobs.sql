-- The durable job queue (lib/queue): jobs and the steps each job has done.
-- A job moves queued -> leased -> succeeded | failed | cancelled, or back to
-- queued on a retryable failure or an expired lease. Workers lease with
-- FOR UPDATE SKIP LOCKED, so the partial index jobs_ready serves the lease
-- query and jobs_leased serves the reaper.

CREATE TABLE jobs (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL REFERENCES tenants(id),
    kind             text NOT NULL CHECK (kind ~ '^[a-z0-9_.:-]{1,64}$'),
    payload          jsonb NOT NULL DEFAULT '{}'::jsonb,
    state            text NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'leased', 'succeeded', 'failed', 'cancelled')),
    priority         integer NOT NULL DEFAULT 0,
    run_at           timestamptz NOT NULL DEFAULT now(),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     integer NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 1000),
    idempotency_key  text CHECK (idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 200),
    leased_by        text,
    lease_expires_at timestamptz,
    -- Set by a cancel of a leased job; the worker sees it on its next heartbeat.
    cancel_requested boolean NOT NULL DEFAULT false,
    last_error       text,
    created_by       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    -- A lease has an owner and an expiry, and only a leased job has them.
    CHECK ((state = 'leased') = (leased_by IS NOT NULL AND lease_expires_at IS NOT NULL)),
    CHECK ((state IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL))
);

CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_ready ON jobs (priority DESC, run_at, created_at) WHERE state = 'queued';
CREATE INDEX jobs_leased ON jobs (lease_expires_at) WHERE state = 'leased';
CREATE INDEX jobs_tenant_created ON jobs (tenant_id, created_at DESC);

CREATE TABLE job_steps (
    job_id      uuid NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    tenant_id   uuid NOT NULL REFERENCES tenants(id),
    seq         integer NOT NULL CHECK (seq >= 1),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    state       text NOT NULL CHECK (state IN ('begun', 'done', 'failed')),
    detail      jsonb,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (job_id, seq),
    -- A retried job finds the steps it already did by name and skips them.
    UNIQUE (job_id, name)
);

-- Idle workers LISTEN on escher_jobs; the payload is the job's kind. Sent
-- only for jobs runnable now: a delayed job is found by the workers' slow poll.
-- NOTIFY is delivered at commit, so a woken worker always sees the row.
CREATE FUNCTION jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('escher_jobs', NEW.kind);
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_notify_insert AFTER INSERT ON jobs
    FOR EACH ROW WHEN (NEW.state = 'queued' AND NEW.run_at <= now())
    EXECUTE FUNCTION jobs_notify();
CREATE TRIGGER jobs_notify_requeue AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (NEW.state = 'queued' AND OLD.state <> 'queued' AND NEW.run_at <= now())
    EXECUTE FUNCTION jobs_notify();

ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
-- escher_tenant_id() (0001) reads the per-transaction setting; NULL matches nothing.
CREATE POLICY jobs_tenant ON jobs
    USING (tenant_id = escher_tenant_id())
    WITH CHECK (tenant_id = escher_tenant_id());

ALTER TABLE job_steps ENABLE ROW LEVEL SECURITY;
ALTER TABLE job_steps FORCE ROW LEVEL SECURITY;
CREATE POLICY job_steps_tenant ON job_steps
    USING (tenant_id = escher_tenant_id())
    WITH CHECK (tenant_id = escher_tenant_id());

GRANT SELECT, INSERT, UPDATE, DELETE ON jobs, job_steps TO escher_api, escher_worker;
