-- Audit trail (issue 4, item 8): one hash-chained, append-only log per tenant.
--
-- Key choice: the primary key is (tenant_id, seq), not a global bigserial.
-- seq is per tenant, gapless and starts at 1, so a missing row shows up as a
-- gap without any other bookkeeping, and each tenant's chain is independent
-- of every other tenant's. lib/audit assigns seq under a per-tenant advisory
-- lock; the primary key is the backstop that turns a fork into an error.
--
-- hash = SHA-256 over a length-prefixed encoding of (tenant_id, seq, at in
-- UTC microseconds, actor, action, target, canonical detail, prev_hash); see
-- lib/audit/audit.h for the exact bytes. The first row's prev_hash is 32
-- zero bytes.
--
-- The application roles get SELECT and INSERT only: the log is append-only
-- for them. (UPDATE/DELETE stay possible for the table owner and superusers;
-- audit_verify is what detects that.)
CREATE TABLE audit_log (
    tenant_id uuid NOT NULL REFERENCES tenants(id),
    seq bigint NOT NULL CHECK (seq >= 1),
    at timestamptz NOT NULL,
    actor text NOT NULL CHECK (actor <> ''),
    action text NOT NULL CHECK (action <> ''),
    target text NOT NULL DEFAULT '',
    detail jsonb NOT NULL DEFAULT '{}'::jsonb,
    prev_hash bytea NOT NULL CHECK (octet_length(prev_hash) = 32),
    hash bytea NOT NULL CHECK (octet_length(hash) = 32),
    PRIMARY KEY (tenant_id, seq)
);

-- Listing a tenant's recent activity by time (API pagination by seq uses the key).
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at);

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
-- escher_tenant_id() (0001) reads '' as NULL, so an ended setting matches nothing.
CREATE POLICY tenant_isolation ON audit_log
    USING (tenant_id = escher_tenant_id()) WITH CHECK (tenant_id = escher_tenant_id());

REVOKE ALL ON audit_log FROM PUBLIC;
GRANT SELECT, INSERT ON audit_log TO escher_api, escher_worker;
