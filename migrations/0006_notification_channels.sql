-- 0006_notification_channels: where a tenant wants to hear how its operation
-- runs ended (issue 5, notifications).
--
-- A channel's secret (the Slack incoming-webhook URL, the generic webhook's
-- HMAC key, the SMTP password) is never stored in clear: secret_ciphertext is
-- AES-256-GCM under the server's master key (option master-key of escher-api
-- and escher-worker), laid out as 12-byte nonce || ciphertext || 16-byte tag,
-- with additional data tenant_id || channel id (their 16 raw bytes each), so
-- a ciphertext copied onto another row or tenant does not open (lib/core/seal).
-- config holds only what is not secret: the webhook URL, e-mail addresses and
-- the SMTP server; for Slack the URL host, shown to users.

CREATE TABLE notification_channels (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id         uuid NOT NULL REFERENCES tenants(id),
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 256),
    kind              text NOT NULL CHECK (kind IN ('slack', 'webhook', 'email')),
    config            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(config) = 'object'),
    -- nonce (12) + at least one byte + tag (16); NULL only for a webhook
    -- without a key, which is sent unsigned.
    secret_ciphertext bytea CHECK (secret_ciphertext IS NULL OR octet_length(secret_ciphertext) > 28),
    events            text[] NOT NULL DEFAULT '{succeeded,partial,failed}'
                      CHECK (events <@ ARRAY['succeeded', 'partial', 'failed']::text[]),
    enabled           boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name),
    UNIQUE (tenant_id, id)
);
CREATE INDEX notification_channels_enabled ON notification_channels (tenant_id) WHERE enabled;

ALTER TABLE notification_channels ENABLE ROW LEVEL SECURITY;
ALTER TABLE notification_channels FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notification_channels
    USING (tenant_id = escher_tenant_id()) WITH CHECK (tenant_id = escher_tenant_id());

-- The API manages channels; the worker reads them to deliver (it never
-- changes them).
GRANT SELECT, INSERT, UPDATE, DELETE ON notification_channels TO escher_api;
GRANT SELECT ON notification_channels TO escher_worker;
