-- 0004_job_results: what a finished job produced, and which account a job
-- concerns (so the API can list an account's jobs and the worker's answer is
-- visible without reading every step).
--
-- result is a JSON document the job kind defines (account.verify: the caller
-- identity; org.discover: the members found, registered and not assumable).
ALTER TABLE jobs ADD COLUMN result jsonb;
ALTER TABLE jobs ADD COLUMN account_id uuid;
ALTER TABLE jobs ADD CONSTRAINT jobs_account_fk
    FOREIGN KEY (tenant_id, account_id) REFERENCES aws_accounts (tenant_id, id) ON DELETE SET NULL (account_id);
CREATE INDEX jobs_tenant_kind_state ON jobs (tenant_id, kind, state, created_at DESC);
