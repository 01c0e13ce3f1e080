#!/usr/bin/python3
"""escher-api's accounts and onboarding routes against a real server.

Creates a private database on ESCHER_TEST_PG_URL, runs `escher-api migrate`
and `bootstrap`, starts `escher-api --port 0` (the port comes from its
'listening' log line) and drives every route of api_accounts.c and
api_onboarding.c: what they answer, what they write (aws_accounts, the jobs
they queue, the audit rows of every mutation) and how they refuse bad input.
Standard library only; the database is read through psql. Exit 77 (skipped)
without ESCHER_TEST_PG_URL.
"""
import hashlib
import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

SOURCE = os.environ.get("ESCHER_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("ESCHER_BUILD_DIR", os.path.join(SOURCE, "build-ci"))
BIN = os.path.join(BUILD, "services", "api", "escher-api")
MIGRATIONS = os.path.join(SOURCE, "migrations")
PG = os.environ.get("ESCHER_TEST_PG_URL")
REDIS = os.environ.get("ESCHER_TEST_REDIS_URL", "redis://127.0.0.1:1")

PRINCIPAL = "arn:aws:iam::999988887777:role/escher-hub"
TEMPLATE_URL = "https://my-bucket.s3.us-east-1.amazonaws.com/escher/customer-role.yaml"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

failures = []
checks = 0


def check(cond, what, detail=""):
    global checks
    checks += 1
    if cond:
        print("ok:", what)
    else:
        failures.append(what)
        print("FAIL:", what, detail, file=sys.stderr)
    return cond


def role(account, name="EscherOperator", partition="aws"):
    return f"arn:{partition}:iam::{account}:role/{name}"


class Db:
    def __init__(self):
        self.name = f"escher_t_apiacc_{os.getpid()}"
        base = PG.split("?")[0]
        self.url = base.rsplit("/", 1)[0] + "/" + self.name

    def admin(self, sql):
        subprocess.run(["psql", PG, "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                       stdout=subprocess.DEVNULL)

    def create(self):
        self.admin(f"CREATE DATABASE {self.name}")

    def drop(self):
        subprocess.run(["psql", PG, "-qAt", "-c", f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def rows(self, sql, *params):
        """Rows of sql, run as the superuser (RLS bypassed); params are
        passed as psql variables and quoted by psql (:'v1'...)."""
        args = ["psql", self.url, "-qAt", "-F", "\t", "-v", "ON_ERROR_STOP=1"]
        for i, p in enumerate(params, 1):
            args += ["-v", f"v{i}={p}"]
        out = subprocess.run(args, input=sql, capture_output=True, text=True, check=True).stdout
        return [line.split("\t") for line in out.splitlines() if line != ""]

    def value(self, sql, *params):
        rows = self.rows(sql, *params)
        return rows[0][0] if rows else None


class Server:
    """One escher-api process; stderr is drained by a thread so the pipe
    never fills, and kept for the sanitizer check at stop."""

    def __init__(self, db_url, extra=(), env=None):
        e = dict(os.environ)
        e.pop("ESCHER_API_ESCHER_PRINCIPAL_ARN", None)
        e.pop("ESCHER_API_TEMPLATE_URL", None)
        e.update(env or {})
        self.proc = subprocess.Popen(
            [BIN, "--port", "0", "--listen", "127.0.0.1", "--threads", "2", "--database-url", db_url,
             "--redis-url", REDIS, "--migrations-dir", MIGRATIONS, "--token-rate", "100000",
             "--token-burst", "100000", *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=e)
        self.lines = []
        self.port = None
        ready = threading.Event()

        def drain():
            for line in self.proc.stderr:
                self.lines.append(line)
                if self.port is None and '"listening"' in line:
                    try:
                        self.port = int(json.loads(line)["port"])
                    except (ValueError, KeyError):
                        pass
                    ready.set()
            ready.set()

        self.thread = threading.Thread(target=drain, daemon=True)
        self.thread.start()
        ready.wait(30)
        if self.port is None:
            raise RuntimeError("escher-api did not log 'listening':\n" + "".join(self.lines))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.thread.join(5)
        text = "".join(self.lines)
        bad = re.search(r"AddressSanitizer|LeakSanitizer|runtime error", text)
        check(rc == 0 and not bad, f"escher-api (port {self.port}) exits 0 and sanitizer-clean",
              f"rc={rc}\n{text[-4000:]}")

    def call(self, method, path, body=None, token=None, raw=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {}
        if token:
            headers["Authorization"] = "Bearer " + token
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        res = conn.getresponse()
        text = res.read().decode()
        conn.close()
        try:
            doc = json.loads(text) if text else None
        except ValueError:
            doc = text
        return res.status, doc, dict(res.getheaders())


def template_parameters(path):
    """Parameter names and whether each has a Default, from a CloudFormation
    YAML template's top-level Parameters block (two-space indented keys)."""
    params, current, inside = {}, None, False
    with open(path) as f:
        for line in f:
            if re.match(r"^\S", line):
                inside = line.startswith("Parameters:")
                continue
            if not inside:
                continue
            m = re.match(r"^  ([A-Za-z0-9]+):\s*$", line)
            if m:
                current = m.group(1)
                params[current] = False
            elif current and re.match(r"^    Default:", line):
                params[current] = True
    return params


def error_of(doc):
    return doc.get("error", {}) if isinstance(doc, dict) else {}


def main():
    if not PG:
        print("SKIP: ESCHER_TEST_PG_URL is not set (tests/run.sh sets it when it starts PostgreSQL)")
        return 77
    db = Db()
    db.create()
    servers = []
    try:
        run(db, servers)
    finally:
        for s in servers:
            if s.proc.poll() is None:
                s.stop()
        db.drop()
    print(f"{checks - len(failures)}/{checks} checks passed")
    if failures:
        print("failed:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


def bootstrap(db, tenant, email):
    out = subprocess.run([BIN, "--database-url", db.url, "--migrations-dir", MIGRATIONS, "bootstrap",
                          "--tenant", tenant, "--email", email],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("bootstrap failed: " + out.stderr)
    return dict(line.split(": ", 1) for line in out.stdout.splitlines() if ": " in line)


def add_user(db, tenant_id, email, role_name):
    """A user of the tenant with role_name and a token for it, written
    directly (the users routes are another area's)."""
    token = "esk_" + secrets.token_hex(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    db.rows("WITH u AS (INSERT INTO users (tenant_id, email, role) VALUES (:'v1', :'v2', :'v3')"
            " RETURNING id, tenant_id)"
            " INSERT INTO api_tokens (tenant_id, user_id, token_sha256, name)"
            " SELECT tenant_id, id, decode(:'v4', 'hex'), 'test' FROM u",
            tenant_id, email, role_name, digest)
    return token


def run(db, servers):
    mig = subprocess.run([BIN, "--database-url", db.url, "--migrations-dir", MIGRATIONS, "migrate"],
                         capture_output=True, text=True)
    if not check(mig.returncode == 0, "escher-api migrate", mig.stderr):
        return
    boot = bootstrap(db, "acme", "ops@acme.example")
    tenant, token, email = boot["tenant_id"], boot["api_token"], boot["email"]
    other = bootstrap(db, "globex", "ops@globex.example")
    executor = add_user(db, tenant, "exec@acme.example", "executor")
    viewer = add_user(db, tenant, "viewer@acme.example", "viewer")

    # Onboarding without the principal configured: 503 naming the option.
    bare = Server(db.url)
    servers.append(bare)
    st, doc, _ = bare.call("GET", "/v1/onboarding", token=token)
    msg = error_of(doc).get("message", "")
    check(st == 503 and error_of(doc).get("code") == "not_configured"
          and "--escher-principal-arn" in msg and "ESCHER_API_ESCHER_PRINCIPAL_ARN" in msg,
          "onboarding without --escher-principal-arn: 503 naming the option", f"{st} {doc}")
    bare.stop()

    srv = Server(db.url, ["--escher-principal-arn", PRINCIPAL, "--template-url", TEMPLATE_URL])
    servers.append(srv)
    onboarding_tests(db, srv, token, boot, executor)
    jobs_before = int(db.value("SELECT count(*) FROM jobs"))
    accounts_tests(db, srv, token, email, tenant, executor, viewer, other)
    discovery_tests(db, srv, token, email)
    bad_input_tests(db, srv, token)
    audit_tests(db, srv, tenant)
    check(int(db.value("SELECT count(*) FROM jobs")) > jobs_before, "jobs were queued")
    srv.stop()

    # The principal from the environment, no template URL: no quick-create link.
    envsrv = Server(db.url, env={"ESCHER_API_ESCHER_PRINCIPAL_ARN": PRINCIPAL})
    servers.append(envsrv)
    st, doc, _ = envsrv.call("GET", "/v1/onboarding", token=token)
    cf = (doc or {}).get("cloudformation", {}) if st == 200 else {}
    check(st == 200 and cf.get("template_url") is None and cf.get("quick_create_url") is None
          and "RoleTemplateURL" in doc["stackset"]["parameters_to_provide"],
          "onboarding from ESCHER_API_ESCHER_PRINCIPAL_ARN, no template URL: no link",
          f"{st} {doc}")
    envsrv.stop()

    bad = Server(db.url, ["--escher-principal-arn", "arn:aws:s3:::not-a-principal"])
    servers.append(bad)
    st, doc, _ = bad.call("GET", "/v1/onboarding", token=token)
    check(st == 503 and "arn:aws:s3:::not-a-principal" in error_of(doc).get("message", ""),
          "onboarding with a principal the template refuses: 503 quoting it", f"{st} {doc}")
    bad.stop()


def onboarding_tests(db, srv, token, boot, executor):
    st, doc, _ = srv.call("GET", "/v1/onboarding", token=token)
    if not check(st == 200, "GET /v1/onboarding: 200", f"{st} {doc}"):
        return
    check(doc["external_id"] == boot["external_id"] and doc["escher_principal_arn"] == PRINCIPAL,
          "onboarding: the tenant's external id and the configured principal", str(doc))
    cf = doc["cloudformation"]
    tpl = template_parameters(os.path.join(SOURCE, cf["template"]))
    given = {p["ParameterKey"]: p["ParameterValue"] for p in cf["parameters"]}
    check(cf["template"] == "deploy/aws/customer-role.yaml" and set(given) == set(tpl),
          "onboarding: parameters are exactly customer-role.yaml's Parameters",
          f"{sorted(given)} vs {sorted(tpl)}")
    check(given.get("EscherPrincipalArn") == PRINCIPAL and given.get("ExternalId") == boot["external_id"]
          and given.get("OperatorRoleName") == "EscherOperator"
          and given.get("ReadOnlyRoleName") == "EscherReadOnly"
          and all(isinstance(v, str) for v in given.values()),
          "onboarding: parameter values", str(given))
    q = urllib.parse.urlsplit(cf["quick_create_url"] or "")
    frag = urllib.parse.parse_qs(urllib.parse.urlsplit(q.fragment).query)
    check(q.netloc == "console.aws.amazon.com" and cf["template_url"] == TEMPLATE_URL
          and frag.get("templateURL") == [TEMPLATE_URL]
          and frag.get("param_ExternalId") == [boot["external_id"]]
          and frag.get("param_EscherPrincipalArn") == [PRINCIPAL],
          "onboarding: quick-create link carries template URL, principal and external id",
          cf["quick_create_url"])
    ss = doc["stackset"]
    path = os.path.join(SOURCE, ss["template"])
    check(os.path.exists(path), "onboarding: the stackset template file exists", ss["template"])
    stpl = template_parameters(path)
    sgiven = {p["ParameterKey"]: p["ParameterValue"] for p in ss["parameters"]}
    required = {k for k, has_default in stpl.items() if not has_default}
    check(set(sgiven) <= set(stpl) and required <= set(sgiven) | set(ss["parameters_to_provide"])
          and sgiven.get("RoleTemplateURL") == TEMPLATE_URL
          and ss["parameters_to_provide"] == ["OrganizationalUnitIds"],
          "onboarding: stackset parameters are the template's, the rest named to provide",
          f"{sgiven} {ss['parameters_to_provide']} {stpl}")
    st, doc, _ = srv.call("GET", "/v1/onboarding", token=executor)
    check(st == 403, "onboarding: executor 403", f"{st}")


def account_ok(a):
    return (isinstance(a, dict) and UUID_RE.match(a.get("id", ""))
            and set(a) >= {"id", "account_id", "name", "role_arn", "readonly_role_arn", "regions",
                           "status", "verified_at", "last_error", "created_at", "updated_at"}
            and TIME_RE.match(a["created_at"]) and TIME_RE.match(a["updated_at"]))


def jobs_of(db, account_uuid):
    return db.rows("SELECT id, kind, state, payload::text, created_by, tenant_id FROM jobs"
                   " WHERE account_id = :'v1' ORDER BY created_at, id", account_uuid)


def accounts_tests(db, srv, token, email, tenant, executor, viewer, other):
    # Create: 201, the row, a queued account.verify job, Location.
    body = {"role_arn": role("111111111111"), "readonly_role_arn": role("111111111111", "ops/EscherReadOnly"),
            "name": "prod", "regions": ["us-east-1", "eu-central-2", "us-east-1", "us-gov-west-1"]}
    st, a, hdr = srv.call("POST", "/v1/accounts", body, token)
    if not check(st == 201 and account_ok(a), "create: 201 with the account", f"{st} {a}"):
        return
    check(a["account_id"] == "111111111111" and a["status"] == "pending" and a["name"] == "prod"
          and a["regions"] == ["us-east-1", "eu-central-2", "us-gov-west-1"]
          and a["verified_at"] is None and a["last_error"] is None
          and a["readonly_role_arn"] == body["readonly_role_arn"],
          "create: fields, regions de-duplicated in order", str(a))
    check(hdr.get("Location") == "/v1/accounts/" + a["id"], "create: Location header", str(hdr))
    jobs = jobs_of(db, a["id"])
    check(len(jobs) == 1 and jobs[0][0] == a["verification_job"] and jobs[0][1] == "account.verify"
          and jobs[0][2] == "queued" and json.loads(jobs[0][3]) == {"account": a["id"]}
          and jobs[0][4] == email and jobs[0][5] == tenant,
          "create: account.verify job queued with payload, account, created_by", str(jobs))
    acct = a

    # Duplicate: 409 naming the registered row; no second row or job.
    st, doc, _ = srv.call("POST", "/v1/accounts", {"role_arn": role("111111111111", "Other")}, token)
    check(st == 409 and error_of(doc).get("code") == "conflict"
          and acct["id"] in error_of(doc).get("message", ""),
          "duplicate account: 409 naming the existing id", f"{st} {doc}")
    check(db.value("SELECT count(*) FROM aws_accounts WHERE account_id = '111111111111'") == "1"
          and len(jobs_of(db, acct["id"])) == 1, "duplicate account: nothing written")
    # Another tenant may register the same AWS account (its own ExternalId).
    st, doc, _ = srv.call("POST", "/v1/accounts", {"role_arn": role("111111111111")}, other["api_token"])
    check(st == 201, "another tenant registers the same AWS account: 201", f"{st} {doc}")
    other_id = doc["id"] if st == 201 else None

    # account_id given and matching; verify false: no job.
    st, b, _ = srv.call("POST", "/v1/accounts", {"role_arn": role("222222222222", "path/to/Op"),
                                                 "account_id": "222222222222", "verify": False}, token)
    check(st == 201 and b["verification_job"] is None and jobs_of(db, b["id"]) == []
          and b["readonly_role_arn"] is None and b["regions"] == [] and b["name"] == "",
          "create with matching account_id and verify false: no job, defaults", f"{st} {b}")
    st, c, _ = srv.call("POST", "/v1/accounts", {"role_arn": role("333333333333", partition="aws-cn"),
                                                 "readonly_role_arn": None, "regions": ["cn-north-1"]},
                        token)
    check(st == 201 and c["role_arn"].startswith("arn:aws-cn:") and c["regions"] == ["cn-north-1"],
          "create in aws-cn with readonly null", f"{st} {c}")

    # Listing: 3 pages of 3 over 8 accounts, ascending account ids.
    for n in range(5):
        st, _, _ = srv.call("POST", "/v1/accounts", {"role_arn": role(f"44444444444{n}"), "verify": False},
                            token)
        check(st == 201, f"create 44444444444{n}")
    seen, cursor, pages = [], None, 0
    while True:
        path = "/v1/accounts?limit=3" + (f"&cursor={cursor}" if cursor else "")
        st, doc, _ = srv.call("GET", path, token=viewer)
        if not check(st == 200 and len(doc["items"]) <= 3, f"list page {pages + 1}: 200", f"{st} {doc}"):
            break
        pages += 1
        seen += [i["account_id"] for i in doc["items"]]
        cursor = doc["next_cursor"]
        if cursor is None or pages > 5:
            break
    check(pages == 3 and len(seen) == 8 and seen == sorted(seen) and len(set(seen)) == 8
          and "111111111111" in seen, "list: 3 pages, 8 accounts, sorted, no repeats, own tenant only",
          f"{pages} {seen}")
    st, doc, _ = srv.call("GET", "/v1/accounts?status=pending&limit=500", token=token)
    check(st == 200 and len(doc["items"]) == 8 and doc["next_cursor"] is None,
          "list ?status=pending", f"{st} {doc}")
    for q, what in [("status=bogus", "status"), ("limit=0", "limit"), ("limit=501", "limit"),
                    ("cursor=%21%21", "cursor"), ("cursor=YWJj", "cursor"), ("sort=name", "sort"),
                    ("status=%27%3B%20DROP%20TABLE%20aws_accounts%3B--", "status")]:
        st, doc, _ = srv.call("GET", "/v1/accounts?" + q, token=token)
        check(st == 400 and f"'{what}'" in error_of(doc).get("message", ""),
              f"list ?{q}: 400 naming '{what}'", f"{st} {doc}")

    # Get by uuid (either case) and by account id; 404 and 400.
    for ref in (acct["id"], acct["id"].upper(), "111111111111"):
        st, doc, _ = srv.call("GET", "/v1/accounts/" + ref, token=viewer)
        check(st == 200 and doc["id"] == acct["id"] and doc["account_id"] == "111111111111",
              f"get by {ref}", f"{st} {doc}")
    for ref in ("00000000-0000-0000-0000-000000000000", "999999999999", other_id):
        st, doc, _ = srv.call("GET", "/v1/accounts/" + ref, token=token)
        check(st == 404 and error_of(doc).get("code") == "not_found", f"get {ref}: 404", f"{st} {doc}")
    for ref in ("abc", "12345678901", "1%27%20OR%201%3D1--"):
        st, doc, _ = srv.call("GET", "/v1/accounts/" + ref, token=token)
        check(st == 400 and "'id'" in error_of(doc).get("message", ""), f"get {ref}: 400", f"{st} {doc}")

    # Patch: name only -> no job, status kept.
    db.rows("UPDATE aws_accounts SET status = 'verified', verified_at = now() WHERE id = :'v1'", acct["id"])
    st, doc, _ = srv.call("PATCH", "/v1/accounts/111111111111", {"name": "production"}, token)
    check(st == 200 and doc["name"] == "production" and doc["status"] == "verified"
          and doc["verification_job"] is None and doc["verified_at"] is not None
          and len(jobs_of(db, acct["id"])) == 1, "patch name: 200, still verified, no job", f"{st} {doc}")
    # Role change -> pending, verified_at cleared, new job.
    st, doc, _ = srv.call("PATCH", "/v1/accounts/" + acct["id"],
                          {"role_arn": role("111111111111", "EscherOperator2"), "regions": ["eu-west-1"]},
                          token)
    jobs = jobs_of(db, acct["id"])
    check(st == 200 and doc["status"] == "pending" and doc["verified_at"] is None
          and doc["role_arn"].endswith("EscherOperator2") and doc["regions"] == ["eu-west-1"]
          and len(jobs) == 2 and jobs[1][0] == doc["verification_job"] and jobs[1][1] == "account.verify"
          and json.loads(jobs[1][3]) == {"account": acct["id"]} and jobs[1][4] == email,
          "patch role_arn: pending and a verification job", f"{st} {doc} {jobs}")
    st, doc, _ = srv.call("PATCH", "/v1/accounts/" + acct["id"], {"readonly_role_arn": None}, token)
    check(st == 200 and doc["readonly_role_arn"] is None and doc["verification_job"] is not None,
          "patch readonly_role_arn null: cleared, verified again", f"{st} {doc}")
    st, doc, _ = srv.call("PATCH", "/v1/accounts/" + acct["id"], {"status": "disabled"}, token)
    n_jobs = len(jobs_of(db, acct["id"]))
    check(st == 200 and doc["status"] == "disabled" and doc["verification_job"] is None,
          "patch status disabled: no job", f"{st} {doc}")
    st, doc, _ = srv.call("PATCH", "/v1/accounts/" + acct["id"],
                          {"role_arn": role("111111111111", "EscherOperator3")}, token)
    check(st == 200 and doc["status"] == "disabled" and doc["verification_job"] is None
          and len(jobs_of(db, acct["id"])) == n_jobs,
          "patch role of a disabled account: stays disabled, no job", f"{st} {doc}")
    st, doc, _ = srv.call("POST", f"/v1/accounts/{acct['id']}/verify", None, token)
    check(st == 409 and "disabled" in error_of(doc).get("message", ""),
          "verify a disabled account: 409", f"{st} {doc}")
    st, doc, _ = srv.call("PATCH", "/v1/accounts/" + acct["id"], {"status": "pending"}, token)
    check(st == 200 and doc["status"] == "pending" and doc["verification_job"] is not None
          and len(jobs_of(db, acct["id"])) == n_jobs + 1, "patch status pending: job", f"{st} {doc}")
    for patch, field in [({"status": "verified"}, "status"), ({"role_arn": role("555555555555")}, "role_arn"),
                         ({"readonly_role_arn": role("111111111111", partition="aws-us-gov")},
                          "readonly_role_arn"),
                         ({"role_arn": None}, "role_arn"), ({"name": 7}, "name"),
                         ({"regions": ["us-east-1", "moon-1"]}, "regions[1]"), ({"id": "x"}, "id"),
                         ({"account_id": "111111111111"}, "account_id")]:
        st, doc, _ = srv.call("PATCH", "/v1/accounts/" + acct["id"], patch, token)
        check(st == 400 and f"'{field}'" in error_of(doc).get("message", ""),
              f"patch {patch}: 400 naming '{field}'", f"{st} {doc}")
    st, doc, _ = srv.call("PATCH", "/v1/accounts/" + acct["id"], {}, token)
    check(st == 400, "patch {}: 400", f"{st} {doc}")
    st, doc, _ = srv.call("PATCH", "/v1/accounts/999999999999", {"name": "x"}, token)
    check(st == 404, "patch unknown: 404", f"{st} {doc}")
    st, doc, _ = srv.call("PATCH", "/v1/accounts/" + acct["id"], {"name": "x"}, executor)
    check(st == 403, "patch as executor: 403", f"{st} {doc}")

    # Verify: manager and executor, 202 with the job; viewer 403; unknown 404.
    for who, tok in (("manager", token), ("executor", executor)):
        before = len(jobs_of(db, b["id"]))
        st, doc, hdr = srv.call("POST", "/v1/accounts/222222222222/verify", None, tok)
        jobs = jobs_of(db, b["id"])
        check(st == 202 and UUID_RE.match(doc.get("job", "")) and len(jobs) == before + 1
              and jobs[-1][0] == doc["job"] and jobs[-1][1] == "account.verify"
              and json.loads(jobs[-1][3]) == {"account": b["id"]}
              and hdr.get("Location") == "/v1/jobs/" + doc["job"],
              f"verify as {who}: 202 and the job", f"{st} {doc} {jobs}")
    check(jobs_of(db, b["id"])[-1][4] == "exec@acme.example", "verify: created_by is the caller")
    st, doc, _ = srv.call("POST", "/v1/accounts/222222222222/verify", None, viewer)
    check(st == 403, "verify as viewer: 403", f"{st}")
    st, doc, _ = srv.call("POST", "/v1/accounts/00000000-0000-0000-0000-000000000000/verify", None, token)
    check(st == 404, "verify unknown: 404", f"{st} {doc}")

    # Delete: 204, then 404 for get and delete; the jobs stay, unlinked.
    st, doc, _ = srv.call("DELETE", "/v1/accounts/" + b["id"], None, token)
    check(st == 204 and doc is None, "delete: 204 without a body", f"{st} {doc}")
    st, doc, _ = srv.call("GET", "/v1/accounts/" + b["id"], token=token)
    check(st == 404, "get after delete: 404", f"{st}")
    st, doc, _ = srv.call("DELETE", "/v1/accounts/222222222222", None, token)
    check(st == 404, "delete again: 404", f"{st}")
    st, doc, _ = srv.call("DELETE", "/v1/accounts/" + other_id, None, token)
    check(st == 404 and db.value("SELECT count(*) FROM aws_accounts WHERE id = :'v1'", other_id) == "1",
          "delete another tenant's account: 404, the row stays", f"{st} {doc}")
    check(db.value("SELECT count(*) FROM jobs WHERE payload->>'account' = :'v1' AND account_id IS NULL",
                   b["id"]) == "2", "delete: the account's jobs stay, account_id unset")


def discovery_tests(db, srv, token, email):
    mgmt = role("123456789012", "EscherOrgReader")

    def job_payload(job):
        rows = db.rows("SELECT kind, payload::text, created_by, account_id FROM jobs WHERE id = :'v1'", job)
        return rows[0] if rows else None

    st, doc, hdr = srv.call("POST", "/v1/discovery", {"management_role_arn": mgmt}, token)
    row = job_payload(doc.get("job")) if st == 202 else None
    check(st == 202 and row and row[0] == "org.discover" and row[2] == email and row[3] == ""
          and json.loads(row[1]) == {"management_role_arn": mgmt, "role_name": "EscherOperator",
                                     "readonly_role_name": "EscherReadOnly"}
          and hdr.get("Location") == "/v1/jobs/" + doc["job"],
          "discovery: 202, org.discover with default role names", f"{st} {doc} {row}")
    body = {"management_role_arn": mgmt, "role_name": "escher/Op-{account_id}",
            "readonly_role_name": None, "regions": ["us-east-1", "us-east-1", "eu-west-1"]}
    st, doc, _ = srv.call("POST", "/v1/discovery", body, token)
    row = job_payload(doc.get("job")) if st == 202 else None
    check(st == 202 and row and json.loads(row[1]) == {
        "management_role_arn": mgmt, "role_name": "escher/Op-{account_id}",
        "regions": ["us-east-1", "eu-west-1"]},
        "discovery: template role name, no read-only role, regions de-duplicated", f"{st} {doc} {row}")
    for b, field in [({}, "management_role_arn"),
                     ({"management_role_arn": "arn:aws:iam::123456789012:user/bob"}, "management_role_arn"),
                     ({"management_role_arn": mgmt, "role_name": "bad name"}, "role_name"),
                     ({"management_role_arn": mgmt, "role_name": "{account_id}" + "x" * 53}, "role_name"),
                     ({"management_role_arn": mgmt, "role_name": "{acount_id}"}, "role_name"),
                     ({"management_role_arn": mgmt, "readonly_role_name": ""}, "readonly_role_name"),
                     ({"management_role_arn": mgmt, "role_name": None}, "role_name"),
                     ({"management_role_arn": mgmt, "regions": "us-east-1"}, "regions"),
                     ({"management_role_arn": mgmt, "account_id": "123456789012"}, "account_id")]:
        st, doc, _ = srv.call("POST", "/v1/discovery", b, token)
        check(st == 400 and f"'{field}'" in error_of(doc).get("message", ""),
              f"discovery {b}: 400 naming '{field}'", f"{st} {doc}")
    st, doc, _ = srv.call("POST", "/v1/discovery", {"management_role_arn": mgmt,
                                                    "role_name": "{account_id}" + "x" * 52}, token)
    check(st == 202, "discovery: a template that expands to 64 characters is accepted", f"{st} {doc}")


def bad_input_tests(db, srv, token):
    good = role("666666666666")
    cases = [
        ({"role_arn": 5}, "role_arn", "must be a string"),
        ({}, "role_arn", "is required"),
        ({"role_arn": ""}, "role_arn", "empty"),
        ({"role_arn": good, "regions": "us-east-1"}, "regions", "array of strings"),
        ({"role_arn": good, "regions": [1]}, "regions", "array of strings"),
        ({"role_arn": good, "regions": ["US-EAST-1"]}, "regions[0]", "us-east-1"),
        ({"role_arn": good, "regions": ["us-east"]}, "regions[0]", "region"),
        ({"role_arn": good, "regions": ["us-east-1a"]}, "regions[0]", "region"),
        ({"role_arn": good, "regions": [f"us-east-{i}" for i in range(1, 34)]}, "regions", "at most 32"),
        ({"role_arn": good, "verify": "yes"}, "verify", "true or false"),
        ({"role_arn": good, "name": "x" * 257}, "name", "at most 256"),
        ({"role_arn": good, "name": "a\nb"}, "name", "control characters"),
        ({"role_arn": good, "name": ["x"]}, "name", "must be a string"),
        ({"role_arn": good, "foo": 1}, "foo", "known: role_arn, readonly_role_arn, name, regions"),
        ({"role_arn": good, "account_id": "777777777777"}, "account_id", "666666666666"),
        ({"role_arn": good, "account_id": "6666"}, "account_id", "12 digits"),
        ({"role_arn": good, "account_id": 666666666666}, "account_id", "must be a string"),
        ({"role_arn": good, "readonly_role_arn": role("777777777777", "EscherReadOnly")},
         "readonly_role_arn", "account 666666666666"),
        ({"role_arn": good, "readonly_role_arn": "EscherReadOnly"}, "readonly_role_arn", "arn:"),
        ({"role_arn": good + "\n"}, "role_arn", "control characters"),
    ]
    bad_arns = [
        "arn:aws:iam::66666666666:role/EscherOperator",      # 11 digits
        "arn:aws:iam::6666666666666:role/EscherOperator",    # 13 digits
        "arn:aws:iam::666666666666:user/EscherOperator",
        "arn:aws:iam:us-east-1:666666666666:role/EscherOperator",
        "arn:aws:s3:::bucket",
        "arn:aws-xx:iam::666666666666:role/EscherOperator",
        "arn:aws:iam::666666666666:role/",
        "arn:aws:iam::666666666666:role/a//b",
        "arn:aws:iam::666666666666:role/" + "n" * 65,
        "arn:aws:iam::666666666666:role/Escher Operator",
        "ARN:AWS:IAM::666666666666:ROLE/x",
        "arn:aws:iam::666666666666:role/x'; DROP TABLE aws_accounts; --",
        "' OR '1'='1",
    ]
    cases += [({"role_arn": a}, "role_arn", "arn:<aws|aws-cn|aws-us-gov>:iam::<12 digits>:role/")
              for a in bad_arns]
    for body, field, words in cases:
        st, doc, _ = srv.call("POST", "/v1/accounts", body, token)
        msg = error_of(doc).get("message", "")
        check(st == 400 and f"'{field}'" in msg and words in msg,
              f"create {json.dumps(body)[:90]}: 400 naming '{field}'", f"{st} {doc}")
    # The longest valid name, with a path.
    st, doc, _ = srv.call("POST", "/v1/accounts", {"role_arn": role("666666666666", "a/b/" + "n" * 64),
                                                   "verify": False}, token)
    check(st == 201, "create: role name of 64 characters under a path", f"{st} {doc}")
    # 40 regions with repeats, 32 distinct: accepted.
    regions = [f"ap-southeast-{i % 32 + 1}" for i in range(40)]
    st, doc, _ = srv.call("POST", "/v1/accounts", {"role_arn": role("888888888888"), "regions": regions,
                                                   "verify": False}, token)
    check(st == 201 and len(doc["regions"]) == 32, "create: 40 regions, 32 distinct: accepted", f"{st}")
    # Not JSON, not an object.
    for raw, what in [(b"{", "not valid JSON"), (b"[]", "JSON object"), (b"", "empty")]:
        st, doc, _ = srv.call("POST", "/v1/accounts", token=token, raw=raw)
        check(st == 400 and what in error_of(doc).get("message", ""), f"create body {raw!r}: 400",
              f"{st} {doc}")
    # Injection strings are data: stored and returned as sent.
    evil = "Robert'); DROP TABLE aws_accounts; -- \\ \" %s $1"
    st, doc, _ = srv.call("POST", "/v1/accounts", {"role_arn": role("999999999990"), "name": evil,
                                                   "verify": False}, token)
    check(st == 201 and doc["name"] == evil, "create: an injection string as name is stored verbatim",
          f"{st} {doc}")
    check(db.value("SELECT name FROM aws_accounts WHERE account_id = '999999999990'") == evil
          and db.value("SELECT to_regclass('aws_accounts') IS NOT NULL") == "t",
          "create: the table is intact and holds the string")
    st, doc, _ = srv.call("POST", "/v1/accounts", {"role_arn": role("999999999991"),
                                                   "name": "ünïcødé " + "é" * 248, "verify": False}, token)
    check(st == 201, "create: 256 non-ASCII characters fit in name", f"{st} {doc}")
    st, doc, _ = srv.call("POST", "/v1/accounts", {"role_arn": role("999999999992"), "verify": False},
                          token=None)
    check(st == 401, "create without a token: 401", f"{st}")


def audit_tests(db, srv, tenant):
    counts = dict(db.rows("SELECT action, count(*) FROM audit_log WHERE tenant_id = :'v1'"
                          " GROUP BY action", tenant))
    # Successful mutations in this test (the failed ones must have written nothing):
    # creates: 111, 222, 333, 5 x 444, 666 (path), 888, 999990, 999991 = 12
    # updates: name, role+regions, readonly null, disabled, role while disabled, pending = 6
    # verifies: manager + executor = 2; deletes: 1; discoveries: 3
    want = {"accounts.create": "12", "accounts.update": "6", "accounts.verify": "2",
            "accounts.delete": "1", "discovery.start": "3"}
    check(all(counts.get(k) == v for k, v in want.items()),
          "audit: one row per successful mutation, none for refused ones", f"{counts}")
    rows = db.rows("SELECT actor, target, detail::text FROM audit_log WHERE tenant_id = :'v1'"
                   " AND action = 'accounts.create' ORDER BY seq LIMIT 1", tenant)
    d = json.loads(rows[0][2]) if rows else {}
    check(rows and rows[0][0] == "ops@acme.example" and rows[0][1].startswith("account:")
          and d.get("account_id") == "111111111111" and "request_id" in d
          and UUID_RE.match(d.get("verification_job") or ""),
          "audit: create row has actor, target and detail", str(rows))
    rows = db.rows("SELECT detail::text FROM audit_log WHERE tenant_id = :'v1'"
                   " AND action = 'accounts.update' ORDER BY seq LIMIT 1 OFFSET 1", tenant)
    d = json.loads(rows[0][0]) if rows else {}
    check(d.get("changes", {}).get("regions") == ["eu-west-1"] and d.get("status") == "pending",
          "audit: update row says what changed", str(d))
    out = subprocess.run([BIN, "--database-url", db.url, "--migrations-dir", MIGRATIONS, "audit",
                          "verify", "--tenant", tenant], capture_output=True, text=True)
    check(out.returncode == 0, "audit: the tenant's chain verifies", out.stdout + out.stderr)


if __name__ == "__main__":
    sys.exit(main())
