-- 0001_core: roles, tenants, users, API tokens, AWS accounts.
--
-- Row-level security is the second wall behind the API's own checks: every
-- tenant table is visible only for the tenant named by the per-transaction
-- setting escher.tenant_id (lib/db: db_set_tenant). Policies compare with
-- escher_tenant_id() rather than current_setting(...)::uuid because a setting
-- made with set_config(..., true) reads back as '' (not NULL) after its
-- transaction ends, and ''::uuid would raise instead of matching nothing.

-- Roles are cluster-wide; several databases may run this at once (tests), so a
-- concurrent creation is tolerated as well as an existing role.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'escher_api') THEN
        BEGIN
            CREATE ROLE escher_api NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'escher_worker') THEN
        BEGIN
            CREATE ROLE escher_worker NOLOGIN BYPASSRLS;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
END
$$;

CREATE FUNCTION escher_tenant_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('escher.tenant_id', true), '')::uuid $$;

CREATE TABLE tenants (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    -- The sts:ExternalId customers put in their role's trust policy; generated
    -- by the server. AWS allows 2..1224 characters of [\w+=,.@:/-]; we demand
    -- at least 32 so it cannot be guessed.
    external_id text NOT NULL UNIQUE
                CHECK (length(external_id) BETWEEN 32 AND 1224
                       AND external_id ~ '^[A-Za-z0-9_+=,.@:/-]+$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id  uuid NOT NULL REFERENCES tenants(id),
    email      text NOT NULL CHECK (length(email) BETWEEN 3 AND 320 AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    role       text NOT NULL CHECK (role IN ('manager', 'executor', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, email),
    -- Lets api_tokens reference (tenant_id, id): a token can never point at
    -- another tenant's user.
    UNIQUE (tenant_id, id)
);

CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid NOT NULL REFERENCES tenants(id),
    user_id      uuid NOT NULL,
    -- SHA-256 of the bearer token; the token itself is shown once and never stored.
    token_sha256 bytea NOT NULL UNIQUE CHECK (octet_length(token_sha256) = 32),
    name         text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id)
);
CREATE INDEX api_tokens_user ON api_tokens (tenant_id, user_id);

CREATE TABLE aws_accounts (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id         uuid NOT NULL REFERENCES tenants(id),
    account_id        text NOT NULL CHECK (account_id ~ '^[0-9]{12}$'),
    name              text NOT NULL DEFAULT '' CHECK (length(name) <= 256),
    -- An IAM role in this very account (path allowed); the read-only role too.
    role_arn          text NOT NULL
                      CHECK (role_arn ~ '^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/([A-Za-z0-9_+=,.@-]+/)*[A-Za-z0-9_+=,.@-]{1,64}$'
                             AND split_part(role_arn, ':', 5) = account_id),
    readonly_role_arn text
                      CHECK (readonly_role_arn IS NULL
                             OR (readonly_role_arn ~ '^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/([A-Za-z0-9_+=,.@-]+/)*[A-Za-z0-9_+=,.@-]{1,64}$'
                                 AND split_part(readonly_role_arn, ':', 5) = account_id)),
    regions           text[] NOT NULL DEFAULT '{}',
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'verified', 'failed', 'disabled')),
    verified_at       timestamptz,
    last_error        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, account_id),
    UNIQUE (tenant_id, id)
);

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
    USING (id = escher_tenant_id()) WITH CHECK (id = escher_tenant_id());

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users
    USING (tenant_id = escher_tenant_id()) WITH CHECK (tenant_id = escher_tenant_id());

ALTER TABLE api_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_tokens
    USING (tenant_id = escher_tenant_id()) WITH CHECK (tenant_id = escher_tenant_id());

ALTER TABLE aws_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE aws_accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON aws_accounts
    USING (tenant_id = escher_tenant_id()) WITH CHECK (tenant_id = escher_tenant_id());

-- Authenticating a bearer token happens before the tenant is known, so RLS
-- would hide the row. This function sees every tenant (it runs as
-- escher_worker, which bypasses RLS) but answers only for the one hash asked
-- and only while the token is live.
CREATE FUNCTION escher_auth_token(hash bytea)
    RETURNS TABLE (token_id uuid, tenant_id uuid, user_id uuid, role text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp
    AS $$
        SELECT t.id, t.tenant_id, t.user_id, u.role
          FROM api_tokens t JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.user_id
         WHERE t.token_sha256 = hash AND t.revoked_at IS NULL
    $$;

GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, users, api_tokens, aws_accounts
    TO escher_api, escher_worker;
ALTER FUNCTION escher_auth_token(bytea) OWNER TO escher_worker;
REVOKE ALL ON FUNCTION escher_auth_token(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION escher_auth_token(bytea) TO escher_api, escher_worker;
