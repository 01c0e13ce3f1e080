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

-- The API's authentication also needs the caller's email (the actor of its
-- audit rows): one round trip answers who is calling. The return type
-- changes, so the function is dropped and made anew with the same rules as in
-- 0001 (SECURITY DEFINER as escher_worker, live tokens only). It is PL/pgSQL,
-- not SQL, because it runs on every API request: a SECURITY DEFINER SQL
-- function is never inlined and is planned again on every call, while
-- PL/pgSQL keeps its plan for the session (measured: 7,000 -> 11,000
-- authenticated requests/s on 2 cores, docs/performance.md).
DROP FUNCTION escher_auth_token(bytea);
CREATE FUNCTION escher_auth_token(hash bytea)
    RETURNS TABLE (token_id uuid, tenant_id uuid, user_id uuid, role text, email text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$
    BEGIN
        RETURN QUERY
        SELECT t.id, t.tenant_id, t.user_id, u.role, u.email
          FROM api_tokens t JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.user_id
         WHERE t.token_sha256 = hash AND t.revoked_at IS NULL;
    END
    $$;
ALTER FUNCTION escher_auth_token(bytea) OWNER TO escher_worker;
REVOKE ALL ON FUNCTION escher_auth_token(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION escher_auth_token(bytea) TO escher_api, escher_worker;

-- Email addresses are one person whatever their case: a second user
-- "Ops@Example.com" next to "ops@example.com" would be the same inbox with
-- two roles.
CREATE UNIQUE INDEX users_email_ci ON users (tenant_id, lower(email));
