-- 0007_account_ou_path: where each account sits in its AWS organization, so
-- an operation can target an organizational unit (issue 5, targets:
-- {"accounts": {"ou": "ou-..."}}).
--
-- ou_path is the chain of parent ids from the root down to the account's
-- own parent: {r-abcd} for an account directly under the root,
-- {r-abcd, ou-abcd-11111111, ou-abcd-22222222} for one two OUs deep. An
-- account is "in" an OU when the OU is anywhere on its path, so nested OUs
-- are included by `ou_path @> ARRAY[ou]` (the GIN index serves it).
-- org.discover writes it (escher-worker walks the tree from the root);
-- ou_updated_at says when. NULL: never discovered (an account registered by
-- hand, or one the walk did not find), so no OU target selects it.

ALTER TABLE aws_accounts
    ADD COLUMN ou_path       text[]
               CHECK (ou_path IS NULL
                      OR (cardinality(ou_path) BETWEEN 1 AND 8
                          AND ou_path[1] ~ '^r-[0-9a-z]{4,32}$'
                          AND array_to_string(ou_path[2:], ',')
                              ~ '^(ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}(,|$))*$')),
    ADD COLUMN ou_updated_at timestamptz;

CREATE INDEX aws_accounts_ou_path ON aws_accounts USING gin (ou_path);
