"""The escher client's commands for the server's areas (users, tokens,
accounts and discovery, onboarding, notification channels, schedules, runs,
audit), run by test_client.py against the real escher-api through its
recording proxy.

For every command: the happy path against the API (compared with what the
API itself answers), a usage error (exit 2, naming the value), a server error
(exit 1, the API's message naming the value, with the request id), json and
csv output for listings. Secrets: a created API token is printed once, to
stdout only, and never sent anywhere; a channel's secret (Slack URL, HMAC
key, SMTP password) travels only in the one request body that sets it and
never appears in any output or in stderr. Standard library only.
"""
import csv
import io
import json
import os
import pty
import re
import select
import signal
import secrets
import subprocess
import termios
import time

import apitest

TARGET = json.dumps({"accounts": "all", "regions": "all", "selector": {"tags": {"env": ["dev"]}}})
NO_SUCH = "00000000-0000-4000-8000-000000000000"


def csv_rows(text):
    return list(csv.reader(io.StringIO(text)))


def run_checks(escher, base_env, run, ok, stack, rec, home, res, outputs):
    """run(*args, env=, input=) runs the client and records its output in
    outputs; ok(p, what) checks exit 0."""
    A = stack.tenants["A"]
    ctx = Ctx(run, ok, stack, rec, home, res, outputs, A)
    ctx.escher, ctx.base_env = escher, base_env
    ctx.start = lambda *args: subprocess.Popen([escher, *args], stdout=subprocess.PIPE,
                                               stderr=subprocess.PIPE, text=True, env=base_env)
    users(ctx)
    tokens(ctx)
    accounts(ctx)
    discovery(ctx)
    onboarding(ctx)
    channels(ctx)
    secret_on_terminal(ctx)
    schedules(ctx)
    runs(ctx)
    audit(ctx)
    usage(ctx)
    secrets_stay_put(ctx)


class Ctx:
    def __init__(self, run, ok, stack, rec, home, res, outputs, A):
        self.run, self.ok, self.stack, self.rec, self.home = run, ok, stack, rec, home
        self.res, self.outputs, self.A = res, outputs, A
        self.manager = A.tokens["manager"]
        self.tokens_made = []      # token texts the client created
        self.channel_secrets = []  # (secret, the request path that must carry it)
        self.generated = []        # secrets the client generated (printed once)

    def api(self, method, path, body=None, token=None):
        return self.stack.client.call(method, path, body, token or self.manager)

    def fails(self, p, code, what, *names, local=False):
        """p exited `code` and its stderr names each of names (and, for the
        server's refusals, its request id)."""
        missing = [n for n in names if n not in p.stderr]
        extra = "request id" in p.stderr if code == 1 and not local else True
        return self.res.check(p.returncode == code and not missing and extra, what,
                              f"exit {p.returncode}, missing {missing}: {p.stderr.strip()[:600]}")

    def env_as(self, role):
        return {"ESCHER_TOKEN": self.A.tokens[role]}


# ---- users ---------------------------------------------------------------------------


def users(t):
    email = f"cli-{secrets.token_hex(4)}@a.example"
    p = t.run("users", "create", "--email", email, "--role", "viewer", "--output", "json")
    uid = None
    if t.ok(p, "users create"):
        u = json.loads(p.stdout)
        uid = u.get("id")
        t.res.check(u.get("email") == email and u.get("role") == "viewer",
                    "users create makes the viewer", p.stdout)
    p = t.run("users", "list", "--output", "json")
    if t.ok(p, "users list --output json"):
        got = json.loads(p.stdout)
        api = t.api("GET", "/v1/users?limit=500").json["items"]
        t.res.check(got == api, "users list json equals the API's items", p.stdout[:300])
        t.res.check(email in [u["email"] for u in got], "users list has the new user")
    p = t.run("users", "list", "--output", "csv")
    if t.ok(p, "users list --output csv"):
        rows = csv_rows(p.stdout)
        t.res.check(rows[0] == ["id", "email", "role", "created_at"] and
                    any(r[1] == email for r in rows[1:]), "users csv: header and the user",
                    p.stdout[:300])
    if uid:
        p = t.run("users", "show", uid, "--output", "json")
        if t.ok(p, "users show"):
            t.res.check(json.loads(p.stdout).get("email") == email, "users show answers the user")
    p = t.run("users", "create", "--email", email, "--role", "viewer")
    t.fails(p, 1, "users create of a taken e-mail: exit 1 naming it", email, "already exists")
    p = t.run("users", "create", "--email", "not-an-address", "--role", "viewer")
    t.fails(p, 1, "users create of a bad e-mail: exit 1 naming it", "not-an-address")
    p = t.run("users", "create", "--email", "x@a.example", "--role", "boss")
    t.fails(p, 2, "users create --role boss: exit 2 naming it", "'boss'", "manager")
    p = t.run("users", "list", env=t.env_as("viewer"))
    t.fails(p, 1, "users list as a viewer: exit 1 (403)")
    p = t.run("users", "show", NO_SUCH)
    t.fails(p, 1, "users show of an unknown id: exit 1 naming it", NO_SUCH)


# ---- tokens --------------------------------------------------------------------------


def tokens(t):
    A = t.A
    p = t.run("tokens", "create", "--name", "made by cli", "--output", "json")
    tid = None
    if t.ok(p, "tokens create --output json"):
        tok = json.loads(p.stdout)
        tid, text = tok.get("id"), tok.get("token", "")
        t.tokens_made.append(text)
        t.res.check(re.fullmatch(r"esk_[0-9a-f]{64}", text) is not None and
                    tok.get("user_id") == A.users["manager"] and tok.get("name") == "made by cli",
                    "tokens create answers the token for the caller", p.stdout)
        t.res.check(p.stdout.count(text) == 1, "the token is printed once")
        t.res.check(text not in p.stderr and "shown only this once" in p.stderr,
                    "stderr says to keep the token but never holds it", p.stderr)
        me = t.api("GET", "/v1/me", token=text)
        t.res.check(me.status == 200 and me.json.get("user_id") == A.users["manager"],
                    "the printed token works", me.short())
    # table output: the token once, on stdout
    p = t.run("tokens", "create", "--name", "table")
    if t.ok(p, "tokens create (table)"):
        found = re.findall(r"esk_[0-9a-f]{64}", p.stdout)
        t.res.check(len(found) == 1 and not re.search(r"esk_[0-9a-f]{64}", p.stderr),
                    "table: the token once on stdout, not on stderr", p.stdout)
        t.tokens_made += found
    # for another user, named by e-mail
    p = t.run("tokens", "create", "--user", A.emails["executor"], "--name", "for exec",
              "--output", "json")
    exec_tok = None
    if t.ok(p, "tokens create --user EMAIL"):
        tok = json.loads(p.stdout)
        exec_tok = tok.get("id")
        t.tokens_made.append(tok.get("token", ""))
        t.res.check(tok.get("user_id") == A.users["executor"],
                    "--user EMAIL makes the executor's token", p.stdout)
    p = t.run("tokens", "list", "--output", "json")
    if t.ok(p, "tokens list --output json"):
        got = json.loads(p.stdout)
        t.res.check(tid in [x["id"] for x in got] and all("token" not in x for x in got),
                    "tokens list has the new token, never a token's text", p.stdout[:300])
    p = t.run("tokens", "list", "--user", A.users["executor"], "--output", "csv")
    if t.ok(p, "tokens list --user ID --output csv"):
        rows = csv_rows(p.stdout)
        t.res.check(rows[0][:3] == ["id", "user_id", "name"] and len(rows) > 1 and
                    all(r[1] == A.users["executor"] for r in rows[1:]) and
                    exec_tok in [r[0] for r in rows[1:]],
                    "tokens list --user: only the executor's tokens", p.stdout[:400])
    p = t.run("tokens", "list", "--output", "json", env=t.env_as("viewer"))
    if t.ok(p, "tokens list as a viewer"):
        t.res.check(all(x["user_id"] == A.users["viewer"] for x in json.loads(p.stdout)),
                    "a viewer lists only their own tokens")
    if exec_tok:
        p = t.run("tokens", "revoke", exec_tok)
        if t.ok(p, "tokens revoke"):
            t.res.check(f"Revoked token {exec_tok}" in p.stdout, "tokens revoke says so", p.stdout)
            rows = t.stack.db.rows("SELECT revoked_at IS NOT NULL FROM api_tokens WHERE id = :'v1'",
                                   exec_tok)
            t.res.check(rows == [["t"]], "the token is revoked in the database", str(rows))
    p = t.run("tokens", "revoke", NO_SUCH)
    t.fails(p, 1, "tokens revoke of an unknown id: exit 1 naming it", NO_SUCH)
    p = t.run("tokens", "revoke", "zz-not-an-id")
    t.fails(p, 2, "tokens revoke of a malformed id: exit 2 naming it", "'zz-not-an-id'")
    p = t.run("tokens", "list", "--user", "bogus")
    t.fails(p, 2, "tokens list --user bogus: exit 2 naming it", "'bogus'")
    p = t.run("tokens", "create", "--user", "nobody@a.example")
    t.fails(p, 1, "tokens create --user of an unknown e-mail: exit 1 naming it",
            "'nobody@a.example'", local=True)
    p = t.run("tokens", "create", "--user", A.users["manager"], env=t.env_as("executor"))
    t.fails(p, 1, "an executor making a token for another user: exit 1 (403)")


# ---- accounts ------------------------------------------------------------------------


def accounts(t):
    acct = apitest.fresh_account_id()
    arn = apitest.role_arn(acct)
    ro = apitest.role_arn(acct, "EscherReadOnly")
    p = t.run("accounts", "add", "--role-arn", arn, "--readonly-role-arn", ro, "--name", "cli acct",
              "--regions", "eu-west-1,us-east-1", "--output", "json")
    aid = None
    if t.ok(p, "accounts add"):
        a = json.loads(p.stdout)
        aid = a.get("id")
        t.res.check(a.get("account_id") == acct and a.get("readonly_role_arn") == ro and
                    a.get("regions") == ["eu-west-1", "us-east-1"] and a.get("status") == "pending"
                    and a.get("verification_job"),
                    "accounts add registers the account and queues its verification", p.stdout)
        if a.get("verification_job"):
            kind = t.stack.db.value("SELECT kind FROM jobs WHERE id = :'v1'", a["verification_job"])
            t.res.check(kind == "account.verify", "the verification job is queued", kind)
    p = t.run("accounts", "add", "--role-arn", arn)
    t.fails(p, 1, "accounts add of a registered account: exit 1 (409) naming it", acct)
    p = t.run("accounts", "add", "--role-arn", "arn:aws:iam::12:role/x")
    t.fails(p, 1, "accounts add of a bad ARN: exit 1 naming it", "arn:aws:iam::12:role/x")
    p = t.run("accounts", "add", "--role-arn", arn, "--regions", "eu-west-1,,us-east-1")
    t.fails(p, 2, "accounts add --regions with an empty element: exit 2 naming it",
            "'eu-west-1,,us-east-1'")
    p = t.run("accounts", "add", "--name", "x")
    t.fails(p, 2, "accounts add without --role-arn: exit 2", "--role-arn")
    acct2 = apitest.fresh_account_id()
    p = t.run("accounts", "add", "--role-arn", apitest.role_arn(acct2), "--no-verify",
              "--output", "json")
    if t.ok(p, "accounts add --no-verify"):
        t.res.check(json.loads(p.stdout).get("verification_job") is None,
                    "--no-verify queues nothing", p.stdout)
    if not aid:
        return
    p = t.run("accounts", "update", aid, "--name", "renamed", "--no-readonly-role", "--output",
              "json")
    if t.ok(p, "accounts update --name --no-readonly-role"):
        a = json.loads(p.stdout)
        t.res.check(a.get("name") == "renamed" and a.get("readonly_role_arn") is None,
                    "the account is renamed and has no read-only role", p.stdout)
    p = t.run("accounts", "update", acct, "--disable", "--output", "json")
    if t.ok(p, "accounts update --disable (by 12-digit id)"):
        t.res.check(json.loads(p.stdout).get("status") == "disabled", "the account is disabled")
    p = t.run("accounts", "list", "--status", "disabled", "--output", "json")
    if t.ok(p, "accounts list --status disabled"):
        got = json.loads(p.stdout)
        t.res.check([a["id"] for a in got] == [aid], "only the disabled account is listed",
                    p.stdout[:300])
    p = t.run("accounts", "verify", aid)
    t.fails(p, 1, "accounts verify of a disabled account: exit 1 (409)")
    p = t.run("accounts", "update", aid, "--enable", "--output", "json")
    if t.ok(p, "accounts update --enable"):
        a = json.loads(p.stdout)
        t.res.check(a.get("status") == "pending" and a.get("verification_job"),
                    "--enable makes it pending and queues a verification", p.stdout)
    p = t.run("accounts", "update", aid)
    t.fails(p, 2, "accounts update with nothing to change: exit 2", "nothing to change")
    p = t.run("accounts", "update", aid, "--disable", "--enable")
    t.fails(p, 2, "accounts update --disable --enable: exit 2 naming both", "--disable", "--enable")
    p = t.run("accounts", "update", aid, "--role-arn", "arn:aws:iam::999999999999:role/Other")
    t.fails(p, 1, "accounts update to another account's role: exit 1 naming it",
            "arn:aws:iam::999999999999:role/Other")
    p = t.run("accounts", "list", "--status", "gone")
    t.fails(p, 2, "accounts list --status gone: exit 2 naming it", "'gone'")
    p = t.run("accounts", "delete", aid)
    if t.ok(p, "accounts delete"):
        t.res.check("Deleted account" in p.stdout, "accounts delete says so", p.stdout)
    p = t.run("accounts", "show", aid)
    t.fails(p, 1, "a deleted account is not found: exit 1 naming it", aid)
    p = t.run("accounts", "delete", aid, env=t.env_as("executor"))
    t.fails(p, 1, "accounts delete as an executor: exit 1 (403)")


def discovery(t):
    mgmt = apitest.role_arn(apitest.fresh_account_id(), "OrgReader")
    p = t.run("accounts", "discover", "--management-role-arn", mgmt, "--role-name",
              "Escher-{account_id}", "--no-readonly-role", "--regions", "eu-west-1",
              "--output", "json")
    if t.ok(p, "accounts discover"):
        job = json.loads(p.stdout).get("job")
        row = t.stack.db.rows("SELECT kind, payload::text FROM jobs WHERE id = :'v1'", job)
        pl = json.loads(row[0][1]) if row else {}
        t.res.check(row and row[0][0] == "org.discover" and pl.get("management_role_arn") == mgmt
                    and pl.get("role_name") == "Escher-{account_id}" and
                    "readonly_role_name" not in pl and pl.get("regions") == ["eu-west-1"],
                    "accounts discover queues org.discover with the flags' payload", str(row))
    p = t.run("accounts", "discover", "--management-role-arn", "arn:bad")
    t.fails(p, 1, "accounts discover with a bad ARN: exit 1 naming it", "arn:bad")
    p = t.run("accounts", "discover", "--management-role-arn", mgmt, "--role-name", "bad name!")
    t.fails(p, 1, "accounts discover with a bad role name: exit 1 naming it", "bad name!")
    p = t.run("accounts", "discover")
    t.fails(p, 2, "accounts discover without the role: exit 2", "--management-role-arn")

    # --wait: the job's result (written as a worker would) becomes the member list
    before = t.stack.db.value("SELECT count(*) FROM jobs WHERE kind = 'org.discover'")
    proc = t.start("accounts", "discover", "--management-role-arn", mgmt, "--wait", "--output",
                   "csv")
    job = None
    for _ in range(100):
        n = t.stack.db.value("SELECT count(*) FROM jobs WHERE kind = 'org.discover'")
        if n != before:
            job = t.stack.db.value("SELECT id FROM jobs WHERE kind = 'org.discover'"
                                   " ORDER BY created_at DESC LIMIT 1")
            break
        time.sleep(0.1)
    time.sleep(1.2)
    result = {"members": 4, "registered": ["111111111111", "222222222222", "333333333333"],
              "verified": ["111111111111"],
              "failed": [{"account_id": "222222222222",
                          "role_arn": "arn:aws:iam::222222222222:role/EscherOperator",
                          "error": "AccessDenied: not authorized to perform sts:AssumeRole"}],
              "skipped": [{"account_id": "444444444444", "status": "SUSPENDED"}]}
    if job:
        t.stack.db.rows("UPDATE jobs SET state = 'succeeded', finished_at = now(), result = :'v2'"
                        " WHERE id = :'v1'", job, json.dumps(result))
    out, err = proc.communicate(timeout=60)
    t.outputs.append((["accounts", "discover", "--wait"], out, err))
    rows = csv_rows(out)
    by = {r[0]: r for r in rows[1:]}
    t.res.check(proc.returncode == 3, "discover --wait: exit 3 when some members failed",
                f"exit {proc.returncode}: {err}")
    t.res.check(rows and rows[0] == ["account_id", "outcome", "role_arn", "error"] and
                by.get("111111111111", [None, None])[1] == "verified" and
                by.get("222222222222", [None, None])[1] == "failed" and
                "AccessDenied" in by.get("222222222222", ["", "", "", ""])[3] and
                by.get("333333333333", [None, None])[1] == "registered" and
                "SUSPENDED" in by.get("444444444444", ["", ""])[1],
                "discover --wait lists verified, failed (with AWS's error), registered, skipped",
                out)
    t.res.check(job is not None and job in err and "1 role(s) failed" in err,
                "discover --wait names the job and the failures on stderr", err)


# ---- onboarding ----------------------------------------------------------------------


def onboarding(t):
    A = t.A
    p = t.run("onboarding", "show", "--output", "json")
    api = t.api("GET", "/v1/onboarding").json
    if t.ok(p, "onboarding show --output json"):
        t.res.check(json.loads(p.stdout) == api and api.get("external_id") == A.external_id,
                    "onboarding show json equals the API's answer (the tenant's ExternalId)",
                    p.stdout[:300])
    p = t.run("onboarding", "show")
    if t.ok(p, "onboarding show (table)"):
        t.res.check(A.external_id in p.stdout and "parameter ExternalId" in p.stdout and
                    "deploy/aws/customer-role.yaml" in p.stdout and
                    "OrganizationalUnitIds" in p.stdout,
                    "the table has the ExternalId, the parameters and the StackSet's",
                    p.stdout)
    p = t.run("onboarding", "show", "--output", "csv")
    if t.ok(p, "onboarding show --output csv"):
        rows = csv_rows(p.stdout)
        t.res.check(rows[0] == ["section", "name", "value"] and
                    ["tenant", "external_id", A.external_id] in rows and
                    ["account", "parameter EscherPrincipalArn", api["escher_principal_arn"]] in rows,
                    "csv rows: section, name, value", p.stdout[:500])
    p = t.run("onboarding", "show", env=t.env_as("executor"))
    t.fails(p, 1, "onboarding show as an executor: exit 1 (403)")
    p = t.run("onboarding", "show", "extra")
    t.fails(p, 2, "onboarding show with an argument: exit 2", "unexpected argument")


# ---- channels ------------------------------------------------------------------------


def channels(t):
    d = os.path.join(t.home, "secrets")
    os.makedirs(d, exist_ok=True)

    def secret_file(text):
        path = os.path.join(d, secrets.token_hex(4))
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
        return path

    slack_url = f"https://hooks.slack.com/services/T0/B0/{secrets.token_hex(12)}"
    p = t.run("channels", "create", "--name", "ops slack", "--kind", "slack", "--secret-file",
              secret_file(slack_url + "\n"), "--events", "failed,partial", "--output", "json")
    slack = None
    if t.ok(p, "channels create slack --secret-file F"):
        ch = json.loads(p.stdout)
        slack = ch.get("id")
        t.channel_secrets.append((slack_url, "POST /v1/channels"))
        t.res.check(ch.get("kind") == "slack" and ch.get("secret_set") is True and
                    ch.get("config", {}).get("host") == "hooks.slack.com" and
                    ch.get("events") == ["failed", "partial"],
                    "the slack channel: secret set, only the host shown, the events", p.stdout)
        body = [b for m, path, h, b in t.rec.requests if m == "POST" and path == "/v1/channels"]
        t.res.check(body and json.loads(body[-1]).get("url") == slack_url,
                    "the webhook URL went (without its newline) in the create request", "")
    hmac_key = secrets.token_hex(20)
    p = t.run("channels", "create", "--name", "ops hook", "--kind", "webhook", "--url",
              "http://127.0.0.1:9/hook", "--secret-file", "-", "--output", "json",
              input=hmac_key + "\n")
    hook = None
    if t.ok(p, "channels create webhook --secret-file - (stdin)"):
        ch = json.loads(p.stdout)
        hook = ch.get("id")
        t.channel_secrets.append((hmac_key, "POST /v1/channels"))
        t.res.check(ch.get("kind") == "webhook" and ch.get("secret_set") is True and
                    ch.get("config", {}).get("url") == "http://127.0.0.1:9/hook",
                    "the webhook channel", p.stdout)
    p = t.run("channels", "create", "--name", "gen hook", "--kind", "webhook", "--url",
              "https://example.com/hook", "--generate-secret")
    if t.ok(p, "channels create webhook --generate-secret (table)"):
        keys = re.findall(r"^hmac_key +([0-9a-f]{64})$", p.stdout, re.M)
        t.res.check(len(keys) == 1 and keys[0] not in p.stderr and p.stdout.count(keys[0]) == 1,
                    "--generate-secret prints the key once, on stdout only", p.stdout)
        if keys:
            t.generated.append(keys[0])
            t.channel_secrets.append((keys[0], "POST /v1/channels"))
    p = t.run("channels", "create", "--name", "gen hook json", "--kind", "webhook", "--url",
              "https://example.com/hook", "--generate-secret", "--output", "json")
    if t.ok(p, "channels create webhook --generate-secret --output json"):
        ch = json.loads(p.stdout)
        key = ch.get("hmac_key", "")
        t.res.check(re.fullmatch(r"[0-9a-f]{64}", key) is not None and ch.get("secret_set"),
                    "json: the generated key is the answer's hmac_key, the stdout one JSON object",
                    p.stdout)
        t.generated.append(key)
        t.channel_secrets.append((key, "POST /v1/channels"))
    password = "smtp-" + secrets.token_hex(10)
    p = t.run("channels", "create", "--name", "ops mail", "--kind", "email", "--smtp-url",
              "smtp://127.0.0.1:2525", "--from", "escher@a.example", "--to",
              "ops@a.example,oncall@a.example", "--username", "mailer", "--secret-file",
              secret_file(password), "--disabled", "--output", "json")
    mail = None
    if t.ok(p, "channels create email"):
        ch = json.loads(p.stdout)
        mail = ch.get("id")
        t.channel_secrets.append((password, "POST /v1/channels"))
        t.res.check(ch.get("config", {}).get("to") == ["ops@a.example", "oncall@a.example"] and
                    ch.get("enabled") is False and ch.get("secret_set") is True,
                    "the email channel: recipients, disabled, password set", p.stdout)

    # usage errors: nothing is sent, the value is named
    n = len(t.rec.requests)
    p = t.run("channels", "create", "--name", "x", "--kind", "slack", "--url", slack_url)
    t.fails(p, 2, "a Slack URL on the command line is refused (exit 2)", "--secret-file")
    t.res.check(slack_url not in p.stderr, "the refusal does not echo the URL", p.stderr)
    p = t.run("channels", "create", "--name", "x", "--kind", "pager")
    t.fails(p, 2, "channels create --kind pager: exit 2 naming it", "'pager'")
    missing = os.path.join(d, "missing")
    p = t.run("channels", "create", "--name", "x", "--kind", "slack", "--secret-file", missing)
    t.fails(p, 2, "a missing --secret-file: exit 2 naming it", missing)
    p = t.run("channels", "create", "--name", "x", "--kind", "slack", "--secret-file",
              secret_file("\n"))
    t.fails(p, 2, "an empty --secret-file: exit 2", "empty")
    two = "line-one-" + secrets.token_hex(8) + "\nline-two"
    p = t.run("channels", "create", "--name", "x", "--kind", "webhook", "--url",
              "http://127.0.0.1:9/h", "--secret-file", "-", input=two)
    t.fails(p, 2, "a two-line secret: exit 2 naming the byte, not the secret", "control character")
    t.res.check("line-one" not in p.stderr, "the refusal does not quote the secret", p.stderr)
    p = t.run("channels", "create", "--name", "x", "--kind", "webhook", "--url",
              "http://127.0.0.1:9/h")
    t.fails(p, 2, "a webhook without its secret: exit 2", "--secret-file")
    p = t.run("channels", "create", "--name", "x", "--kind", "email", "--smtp-url",
              "smtp://127.0.0.1:25", "--from", "a@a.example")
    t.fails(p, 2, "an email channel without --to: exit 2", "--to")
    t.res.check(len(t.rec.requests) == n, "usage errors send nothing",
                str(t.rec.requests[n:])[:300])

    # server errors: exit 1 naming the field, never quoting the secret
    short = "short" + secrets.token_hex(2)
    p = t.run("channels", "create", "--name", "x", "--kind", "webhook", "--url",
              "http://127.0.0.1:9/h", "--secret-file", secret_file(short))
    t.fails(p, 1, "a short HMAC key: exit 1 naming the field", "hmac_key")
    t.res.check(short not in p.stderr and short not in p.stdout, "the short key is not echoed")
    t.channel_secrets.append((short, "POST /v1/channels"))
    taken_url = f"https://hooks.slack.com/services/T2/B2/{secrets.token_hex(12)}"
    p = t.run("channels", "create", "--name", "ops slack", "--kind", "slack", "--secret-file",
              secret_file(taken_url))
    t.fails(p, 1, "a taken channel name: exit 1 naming it", "ops slack")
    t.channel_secrets.append((taken_url, "POST /v1/channels"))

    # list / show / update / test / delete
    p = t.run("channels", "list", "--output", "json")
    if t.ok(p, "channels list --output json"):
        got = json.loads(p.stdout)
        t.res.check(got == t.api("GET", "/v1/channels?limit=500").json["items"] and
                    {slack, hook, mail} <= {c["id"] for c in got},
                    "channels list json equals the API's items", p.stdout[:300])
    p = t.run("channels", "list", "--output", "csv")
    if t.ok(p, "channels list --output csv"):
        rows = csv_rows(p.stdout)
        t.res.check(rows[0][:3] == ["id", "name", "kind"] and len(rows) >= 4,
                    "channels csv: header and rows", p.stdout[:300])
    p = t.run("channels", "list")
    t.ok(p, "channels list (table)")
    if slack:
        p = t.run("channels", "show", slack, "--output", "json")
        t.ok(p, "channels show")
        new_url = f"https://hooks.slack.com/services/T1/B1/{secrets.token_hex(12)}"
        p = t.run("channels", "update", slack, "--secret-file", "-", "--name", "ops slack 2",
                  "--disable", "--output", "json", input=new_url)
        if t.ok(p, "channels update --secret-file - --name --disable"):
            ch = json.loads(p.stdout)
            t.channel_secrets.append((new_url, f"PATCH /v1/channels/{slack}"))
            t.res.check(ch.get("name") == "ops slack 2" and ch.get("enabled") is False,
                        "the channel is renamed and disabled", p.stdout)
        p = t.run("channels", "update", slack)
        t.fails(p, 2, "channels update with nothing to change: exit 2", "nothing to change")
        p = t.run("channels", "update", slack, "--url", "https://x.example/")
        t.fails(p, 2, "channels update --url of a slack channel: exit 2", "--secret-file")
        p = t.run("channels", "update", slack, "--events", "failed,sometimes")
        t.fails(p, 1, "channels update --events with a bad event: exit 1 naming it", "sometimes")
        p = t.run("channels", "test", slack, "--output", "json")
        if t.ok(p, "channels test"):
            job = json.loads(p.stdout).get("job")
            kind = t.stack.db.value("SELECT kind FROM jobs WHERE id = :'v1'", job)
            t.res.check(kind == "notify.deliver", "channels test queues notify.deliver", kind)
        p = t.run("channels", "delete", slack)
        if t.ok(p, "channels delete"):
            t.res.check("Deleted channel" in p.stdout, "channels delete says so", p.stdout)
        p = t.run("channels", "show", slack)
        t.fails(p, 1, "a deleted channel is not found: exit 1 naming it", slack)
    p = t.run("channels", "test", NO_SUCH)
    t.fails(p, 1, "channels test of an unknown id: exit 1 naming it", NO_SUCH)
    viewer_url = f"https://hooks.slack.com/services/T3/B3/{secrets.token_hex(12)}"
    p = t.run("channels", "create", "--name", "v", "--kind", "slack", "--secret-file",
              secret_file(viewer_url), env=t.env_as("viewer"))
    t.fails(p, 1, "channels create as a viewer: exit 1 (403)")
    t.channel_secrets.append((viewer_url, "POST /v1/channels"))


def secret_on_terminal(t):
    """--secret-file - on a terminal: a prompt on stderr, the typed key not
    echoed, the channel made."""
    key = "tty-" + secrets.token_hex(12)
    master, slave = pty.openpty()
    proc = subprocess.Popen([t.escher, "channels", "create", "--name", "tty hook", "--kind",
                             "webhook", "--url", "http://127.0.0.1:9/h", "--secret-file", "-",
                             "--output", "json"], stdin=slave, stdout=subprocess.PIPE,
                            stderr=slave, env=t.base_env)
    os.close(slave)
    seen, sent, deadline = b"", False, time.time() + 30
    while time.time() < deadline:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        if not sent and b"not echoed" in seen:
            os.write(master, key.encode() + b"\n")
            sent = True
        if sent and proc.poll() is not None and not r:
            break
    try:
        out = proc.communicate(timeout=30)[0].decode()
    except subprocess.TimeoutExpired:
        proc.kill()
        out = proc.communicate()[0].decode()
    os.close(master)
    t.outputs.append((["channels", "create", "(terminal)"], out, seen.decode(errors="replace")))
    t.channel_secrets.append((key, "POST /v1/channels"))
    t.res.check(sent and proc.returncode == 0 and json.loads(out or "{}").get("secret_set") is True,
                "--secret-file - on a terminal prompts and reads the key", f"{seen!r} {out}")
    t.res.check(key.encode() not in seen, "the typed key is not echoed on the terminal", repr(seen))

    # interrupted at the prompt: the terminal gets its echo back
    master, slave = pty.openpty()
    proc = subprocess.Popen([t.escher, "channels", "create", "--name", "tty int", "--kind",
                             "webhook", "--url", "http://127.0.0.1:9/h", "--secret-file", "-"],
                            stdin=slave, stdout=subprocess.PIPE, stderr=slave, env=t.base_env)
    seen, deadline = b"", time.time() + 30
    while b"not echoed" not in seen and time.time() < deadline:
        if select.select([master], [], [], 0.2)[0]:
            seen += os.read(master, 4096)
    echo_off = not termios.tcgetattr(slave)[3] & termios.ECHO
    proc.send_signal(signal.SIGINT)
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
    echo_back = bool(termios.tcgetattr(slave)[3] & termios.ECHO)
    os.close(slave)
    os.close(master)
    t.res.check(echo_off and echo_back and proc.returncode == -signal.SIGINT,
                "echo is off at the prompt and back after SIGINT",
                f"off {echo_off}, back {echo_back}, exit {proc.returncode}")


def newest_job(t, kind, before):
    """The id of the newest job of kind once there are more than before."""
    for _ in range(150):
        if t.stack.db.value("SELECT count(*) FROM jobs WHERE kind = :'v1'", kind) != before:
            return t.stack.db.value("SELECT id FROM jobs WHERE kind = :'v1'"
                                    " ORDER BY created_at DESC LIMIT 1", kind)
        time.sleep(0.1)
    return None


# ---- schedules -----------------------------------------------------------------------


def schedules(t):
    p = t.run("schedules", "try", "--cron", "0 20 * * 1-5", "--zone", "Europe/Berlin", "--count",
              "3", "--output", "json")
    if t.ok(p, "schedules try --output json"):
        fires = json.loads(p.stdout).get("fires", [])
        t.res.check(len(fires) == 3 and all(f["local"].endswith(("+01:00", "+02:00"))
                                            for f in fires), "three Berlin fires", p.stdout)
    p = t.run("schedules", "try", "--cron", "0 20 * * 1-5", "--output", "csv")
    if t.ok(p, "schedules try --output csv"):
        rows = csv_rows(p.stdout)
        t.res.check(rows[0] == ["local", "utc"] and len(rows) == 11, "ten fires in csv",
                    p.stdout[:300])
    p = t.run("schedules", "try", "--cron", "0 20 32 * *")
    t.fails(p, 1, "schedules try of a bad cron: exit 1 with lib/cron's message", "out of range")
    p = t.run("schedules", "try", "--cron", "* * * * *", "--count", "0")
    t.fails(p, 2, "schedules try --count 0: exit 2 naming it", "'0'")
    p = t.run("schedules", "create", "--name", "one-off", "--run-at", "2031-01-02T03:04:05Z",
              "--operation", "ec2.start", "--target", TARGET, "--missed-fire-policy", "skip",
              "--output", "json")
    sid = None
    if t.ok(p, "schedules create --run-at --missed-fire-policy"):
        s = json.loads(p.stdout)
        sid = s.get("id")
        t.res.check(s.get("run_at") == "2031-01-02T03:04:05Z" and s.get("cron") is None and
                    s.get("missed_fire_policy") == "skip", "a one-off schedule", p.stdout)
    p = t.run("schedules", "create", "--name", "x", "--cron", "* * * * *", "--run-at",
              "2031-01-02T03:04:05Z", "--operation", "ec2.stop", "--target", TARGET)
    t.fails(p, 2, "--cron and --run-at together: exit 2", "--cron", "--run-at")
    if sid:
        p = t.run("schedules", "update", sid, "--name", "one-off renamed", "--params",
                  "{}", "--missed-fire-window", "600", "--dry-run", "--output", "json")
        if t.ok(p, "schedules update"):
            s = json.loads(p.stdout)
            t.res.check(s.get("name") == "one-off renamed" and s.get("dry_run") is True and
                        s.get("missed_fire_window_seconds") == 600, "the schedule changed", p.stdout)
        p = t.run("schedules", "update", sid, "--missed-fire-policy", "never")
        t.fails(p, 2, "schedules update --missed-fire-policy never: exit 2 naming it", "'never'")
        p = t.run("schedules", "update", sid, "--operation", "ec2.explode")
        t.fails(p, 1, "schedules update to an unknown operation: exit 1 naming it", "ec2.explode")
        p = t.run("schedules", "update", sid)
        t.fails(p, 2, "schedules update with nothing to change: exit 2", "nothing to change")
        p = t.run("schedules", "list", "--operation", "ec2.start", "--enabled", "true", "--output",
                  "json")
        if t.ok(p, "schedules list --operation --enabled"):
            t.res.check([s["id"] for s in json.loads(p.stdout)] == [sid],
                        "the filters leave the one-off", p.stdout[:300])
        p = t.run("schedules", "list", "--enabled", "maybe")
        t.fails(p, 2, "schedules list --enabled maybe: exit 2 naming it", "'maybe'")
        p = t.run("schedules", "delete", sid, "--output", "json")
        t.res.check(p.returncode == 0 and p.stdout == "", "delete with --output json prints nothing",
                    p.stdout)


# ---- runs ----------------------------------------------------------------------------


def runs(t):
    A = t.A
    p = t.run("runs", "start", "--operation", "ec2.stop", "--target", TARGET, "--params", "{}",
              "--dry-run", "--output", "json")
    job = None
    if t.ok(p, "runs start --dry-run"):
        job = json.loads(p.stdout).get("job")
        row = t.stack.db.rows("SELECT kind, state, payload::text FROM jobs WHERE id = :'v1'", job)
        pl = json.loads(row[0][2]) if row else {}
        t.res.check(row and row[0][0] == "ops.run" and row[0][1] == "queued" and
                    pl.get("operation") == "ec2.stop" and pl.get("dry_run") is True and
                    pl.get("target") == json.loads(TARGET),
                    "runs start queues the ops.run job with the flags' payload", str(row))
    p = t.run("runs", "start", "--operation", "ec2.explode", "--target", TARGET)
    t.fails(p, 1, "runs start of an unknown operation: exit 1 naming it", "ec2.explode")
    p = t.run("runs", "start", "--operation", "ec2.resize", "--target", TARGET, "--params",
              '{"instance_type": "m5.large"}', env=t.env_as("executor"))
    t.fails(p, 1, "an executor starting a high-risk run: exit 1 naming the risk", "high")
    p = t.run("runs", "start", "--operation", "ec2.stop", "--target", "{bad json")
    t.fails(p, 2, "runs start --target that is not JSON: exit 2 naming it", "--target",
            "{bad json")
    p = t.run("runs", "start", "--target", TARGET)
    t.fails(p, 2, "runs start without --operation: exit 2", "--operation")

    # listings: filters, every kind, json equal to the API's, csv with "what"
    acct = apitest.Fixtures(t.stack).account(A, verify=True)
    p = t.run("runs", "list", "--kind", "ops.run", "--state", "queued", "--output", "json")
    if t.ok(p, "runs list --kind --state"):
        got = json.loads(p.stdout)
        t.res.check(got and all(j["kind"] == "ops.run" and j["state"] == "queued" for j in got) and
                    job in [j["id"] for j in got], "only queued ops.run jobs, the new one too",
                    p.stdout[:300])
    p = t.run("runs", "list", "--account", acct["id"], "--output", "json")
    if t.ok(p, "runs list --account"):
        got = json.loads(p.stdout)
        t.res.check([j["id"] for j in got] == [acct["verification_job"]],
                    "runs list --account: that account's verification", p.stdout[:300])
    p = t.run("runs", "list", "--output", "csv")
    if t.ok(p, "runs list --output csv"):
        rows = csv_rows(p.stdout)
        head = rows[0]
        what = {r[head.index("kind")]: r[head.index("what")] for r in rows[1:]}
        t.res.check(head[:4] == ["id", "kind", "state", "what"] and
                    what.get("ops.run", "").startswith("ec2.") and
                    what.get("account.verify", "").startswith("account ") and
                    what.get("notify.deliver", "").startswith("test to channel") and
                    what.get("org.discover", "").startswith("organization of arn:"),
                    "runs list shows every kind with what it is about", str(what))
    p = t.run("runs", "list", "--state", "done")
    t.fails(p, 2, "runs list --state done: exit 2 naming it", "'done'")
    p = t.run("runs", "list", "--kind", "BAD KIND")
    t.fails(p, 1, "runs list --kind with a bad kind: exit 1 naming it", "BAD KIND")

    # cancel
    if job:
        p = t.run("runs", "cancel", job)
        if t.ok(p, "runs cancel of a queued job"):
            t.res.check(f"Cancelled job {job}" in p.stdout, "runs cancel says so", p.stdout)
            st = t.stack.db.value("SELECT state FROM jobs WHERE id = :'v1'", job)
            t.res.check(st == "cancelled", "the job is cancelled", st)
        p = t.run("runs", "cancel", job, "--output", "json")
        t.fails(p, 1, "runs cancel of a finished job: exit 1 (409)")
    p = t.run("runs", "cancel", NO_SUCH)
    t.fails(p, 1, "runs cancel of an unknown job: exit 1 naming it", NO_SUCH)
    p = t.run("runs", "cancel", "nope!")
    t.fails(p, 2, "runs cancel of a malformed id: exit 2 naming it", "'nope!'")

    # start --wait: follows the job; a failed job is exit 1 with its error
    before = t.stack.db.value("SELECT count(*) FROM jobs WHERE kind = 'ops.run'")
    proc = t.start("runs", "start", "--operation", "ec2.start", "--target", TARGET, "--wait")
    wjob = newest_job(t, "ops.run", before)
    time.sleep(1.2)
    if wjob:
        t.stack.db.rows("INSERT INTO job_steps (job_id, tenant_id, seq, name, state)"
                        " VALUES (:'v1', :'v2', 1, 'list 111111111111 eu-west-1', 'failed')",
                        wjob, A.id)
        t.stack.db.rows("UPDATE jobs SET state = 'failed', finished_at = now(),"
                        " last_error = 'AccessDenied: the operator role may not'"
                        " WHERE id = :'v1'", wjob)
    out, err = proc.communicate(timeout=60)
    t.outputs.append((["runs", "start", "--wait"], out, err))
    t.res.check(proc.returncode == 1 and f"job {wjob} queued" in out and
                "step 1 list 111111111111 eu-west-1: failed" in out and
                f"job {wjob} failed" in out and "AccessDenied: the operator role" in err,
                "runs start --wait follows the job: steps, end, its error, exit 1",
                f"exit {proc.returncode}: {out}{err}")

    # plan: a dry run waited for, its result as a table of resources
    before = t.stack.db.value("SELECT count(*) FROM jobs WHERE kind = 'ops.run'")
    proc = t.start("runs", "plan", "--operation", "ec2.stop", "--target", TARGET)
    pjob = None
    for _ in range(100):
        if t.stack.db.value("SELECT count(*) FROM jobs WHERE kind = 'ops.run'") != before:
            pjob = t.stack.db.value("SELECT id FROM jobs WHERE kind = 'ops.run'"
                                    " ORDER BY created_at DESC LIMIT 1")
            break
        time.sleep(0.1)
    time.sleep(1.2)
    result = {"operation": "ec2.stop", "dry_run": True, "state": "succeeded",
              "resources": [{"account": "111111111111", "region": "eu-west-1",
                             "id": "i-0aaa", "name": "web", "before": "running",
                             "action": "would stop", "outcome": "planned"},
                            {"account": "111111111111", "region": "eu-west-1",
                             "id": "i-0bbb", "name": "db", "before": "stopped",
                             "action": "would stop", "outcome": "nothing to do"}],
              "errors": [], "counts": {"resources": 2, "planned": 1, "nothing to do": 1}}
    if pjob:
        pl = json.loads(t.stack.db.value("SELECT payload::text FROM jobs WHERE id = :'v1'", pjob))
        t.res.check(pl.get("dry_run") is True, "runs plan queues a dry run", str(pl))
        t.stack.db.rows("UPDATE jobs SET state = 'succeeded', finished_at = now(), result = :'v2'"
                        " WHERE id = :'v1'", pjob, json.dumps(result))
    out, err = proc.communicate(timeout=60)
    t.outputs.append((["runs", "plan"], out, err))
    t.res.check(proc.returncode == 0 and "i-0aaa" in out and "would stop" in out and
                "nothing to do" in out and "nothing was changed" in out,
                "runs plan lists what the dry run would do", f"exit {proc.returncode}: {out}{err}")


# ---- audit ---------------------------------------------------------------------------


def audit(t):
    p = t.run("audit", "list", "--action", "channels.create", "--output", "json")
    if t.ok(p, "audit list --action"):
        got = json.loads(p.stdout)
        t.res.check(got and all(r["action"] == "channels.create" for r in got),
                    "only channels.create rows", p.stdout[:300])
    p = t.run("audit", "list", "--action", "Not An Action")
    t.fails(p, 1, "audit list --action with a bad action: exit 1 naming it", "Not An Action")


# ---- usage and help ------------------------------------------------------------------


def usage(t):
    for args, what in ((["users", "create", "--email", "a@b.example"], "--role"),
                       (["tokens", "create", "--bogus"], "unknown option"),
                       (["channels", "show"], "missing argument"),
                       (["runs", "cancel", "a", "b"], "unexpected argument"),
                       (["accounts", "discover", "--management-role-arn"], "needs a value"),
                       (["runs", "plan", "--operation", "ec2.stop"], "--target"),
                       (["tokens", "list", "--output", "yaml"], "'yaml'")):
        p = t.run(*args)
        t.res.check(p.returncode == 2 and what in p.stderr,
                    f"escher {' '.join(args)}: exit 2 naming {what!r}",
                    f"exit {p.returncode}: {p.stderr}")
    for cmd in (["users", "create"], ["tokens", "create"], ["accounts", "discover"],
                ["channels", "create"], ["runs", "plan"], ["onboarding", "show"]):
        p = t.run(*cmd, "--help")
        t.res.check(p.returncode == 0 and p.stdout.startswith(f"usage: escher {' '.join(cmd)}"),
                    f"escher {' '.join(cmd)} --help", p.stdout[:200])


# ---- where secrets went --------------------------------------------------------------


def secrets_stay_put(t):
    """Each created token: in no request at all (the client never used it)
    and in no stderr; each channel secret: only in the request that set it,
    and in no output (a generated key: once, on its command's stdout)."""
    for tok in t.tokens_made:
        sent = [f"{m} {p}" for m, p, h, b in t.rec.requests
                if tok.encode() in (p + h).encode() + b]
        t.res.check(tok and not sent, "a created token is in no request", str(sent))
        err = [a for a, out, e in t.outputs if tok in e]
        t.res.check(not err, "a created token is in no stderr", str(err))
        outs = [a for a, out, e in t.outputs if tok in out]
        t.res.check(len(outs) == 1, "a created token is printed by one command only", str(outs))
    for secret, where in t.channel_secrets:
        carried = [f"{m} {p}" for m, p, h, b in t.rec.requests
                   if secret.encode() in (p + h).encode() + b]
        t.res.check(carried == [where], f"a channel secret travels only in {where}", str(carried))
        shown = [a for a, out, e in t.outputs
                 if secret in e or (secret in out and secret not in t.generated)]
        t.res.check(not shown, "a channel secret is in no output", str(shown))
    for key in t.generated:
        outs = [a for a, out, e in t.outputs if key in out]
        t.res.check(len(outs) == 1, "a generated key is printed once", str(outs))
    # what the API keeps: the sealed secret, never the text
    dump = t.stack.db.rows("SELECT config::text, encode(secret_ciphertext, 'hex')"
                           " FROM notification_channels")
    text = json.dumps(dump)
    leaked = [s for s, w in t.channel_secrets if s in text]
    t.res.check(not leaked, "the database holds no channel secret in clear", str(leaked))
