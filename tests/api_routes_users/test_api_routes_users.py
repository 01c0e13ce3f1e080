#!/usr/bin/python3
"""escher-api's users, tokens, jobs and audit routes over HTTP.

Usage: test_api_routes_users.py ESCHER_API_BINARY MIGRATIONS_DIR

Creates a private database on the PostgreSQL named by ESCHER_TEST_PG_URL,
runs `escher-api migrate` and `bootstrap`, starts `escher-api --port 0`
(the port comes from its 'listening' log line) and drives the routes as a
client would. Jobs are written with psql as the superuser (the API only
reads and cancels them); the audit chain is tampered with the same way.
Exit 77 (skip) without ESCHER_TEST_PG_URL / ESCHER_TEST_REDIS_URL.
Standard library only.
"""
import hashlib
import http.client
import json
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import time
import base64
import urllib.parse
from datetime import datetime, timezone

BIN, MIGRATIONS = sys.argv[1], sys.argv[2]
PG = os.environ.get("ESCHER_TEST_PG_URL", "")
REDIS = os.environ.get("ESCHER_TEST_REDIS_URL", "")
if not PG or not REDIS:
    print("SKIP: ESCHER_TEST_PG_URL and ESCHER_TEST_REDIS_URL are not set "
          "(tests/run.sh sets them when it starts PostgreSQL and Redis)")
    sys.exit(77)

SERVER = PG.split("?")[0]
DB = "escher_t_routes_users_%d" % os.getpid()
URL = SERVER.rsplit("/", 1)[0] + "/" + DB
TMP = tempfile.mkdtemp(prefix="api_routes_users.")
failures = []


def check(cond, what, detail=""):
    if cond:
        print("ok: " + what)
    else:
        failures.append(what)
        print("FAIL: %s%s" % (what, (": " + str(detail)) if detail != "" else ""))
    return cond


def psql(url, sql):
    out = subprocess.run(["psql", url, "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("psql %s: %s" % (sql[:80], out.stderr))
    return out.stdout.strip()


def sql(q):
    return psql(URL, q)


def escher(*args):
    return subprocess.run([BIN, "--database-url", URL, "--migrations-dir", MIGRATIONS] + list(args),
                          capture_output=True, text=True)


def bootstrap(tenant, email):
    out = escher("bootstrap", "--tenant", tenant, "--email", email)
    if out.returncode != 0:
        raise RuntimeError("bootstrap %s: %s" % (tenant, out.stderr))
    fields = dict(line.split(": ", 1) for line in out.stdout.splitlines() if ": " in line)
    return fields


class Api:
    def __init__(self, port):
        self.port = port

    def call(self, method, path, token=None, body=None, raw=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {}
        if token:
            headers["Authorization"] = "Bearer " + token
        data = raw
        if body is not None:
            data = json.dumps(body)
        if data is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        text = resp.read().decode()
        conn.close()
        try:
            doc = json.loads(text) if text else None
        except ValueError:
            doc = text
        return resp.status, doc, resp

    def pages(self, path, token, limit):
        """Walks a list with ?limit, returning (items, number of pages)."""
        items, cursor, n = [], None, 0
        while True:
            sep = "&" if "?" in path else "?"
            q = path + sep + "limit=%d" % limit
            if cursor:
                q += "&cursor=" + urllib.parse.quote(cursor)
            st, doc, _ = self.call("GET", q, token)
            if st != 200:
                raise RuntimeError("GET %s: %d %s" % (q, st, doc))
            n += 1
            if len(doc["items"]) > limit:
                raise RuntimeError("page of %d items for limit %d" % (len(doc["items"]), limit))
            items += doc["items"]
            cursor = doc["next_cursor"]
            if cursor is None or n > 100:
                return items, n


def err_code(doc):
    return doc.get("error", {}).get("code") if isinstance(doc, dict) else None


def err_msg(doc):
    return doc.get("error", {}).get("message", "") if isinstance(doc, dict) else ""


ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def start_server():
    log = open(os.path.join(TMP, "api.err"), "w")
    proc = subprocess.Popen([BIN, "--port", "0", "--listen", "127.0.0.1", "--threads", "2",
                             "--token-burst", "100000", "--database-url", URL,
                             "--redis-url", REDIS], stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("escher-api exited %d: %s" % (proc.returncode,
                                                              open(log.name).read()))
        for line in open(log.name):
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("msg") == "listening":
                return proc, int(rec["port"])
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("no 'listening' line: " + open(log.name).read())


# ---- audit hashes, recomputed as lib/audit/audit.h describes -------------------

def field(b):
    return struct.pack(">Q", len(b)) + b


def audit_row_hash(tenant, row):
    at = datetime.strptime(row["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    delta = at - datetime(1970, 1, 1, tzinfo=timezone.utc)
    at_us = (delta.days * 86400 + delta.seconds) * 1000000 + delta.microseconds
    detail = json.dumps(row["detail"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    enc = (b"escher.audit.v1\n" + field(tenant.encode()) + field(struct.pack(">q", row["seq"]))
           + field(struct.pack(">q", at_us)) + field(row["actor"].encode())
           + field(row["action"].encode()) + field(row["target"].encode())
           + field(detail.encode()) + field(bytes.fromhex(row["prev_hash"])))
    return hashlib.sha256(enc).hexdigest()


def main():
    psql(PG, "CREATE DATABASE " + DB)
    out = escher("migrate")
    check(out.returncode == 0, "migrate", out.stderr)
    acme = bootstrap("acme", "ops@acme.example")
    beta = bootstrap("beta", "ops@beta.example")
    mgr = acme["api_token"]
    tenant = acme["tenant_id"]
    mgr_user = acme["user_id"]
    proc, port = start_server()
    try:
        run(Api(port), mgr, tenant, mgr_user, beta)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        check(rc == 0, "escher-api stopped cleanly on SIGTERM", rc)
        errlog = open(os.path.join(TMP, "api.err")).read()
        check("esk_" not in errlog, "no token in the server's log")
        check("ERROR: AddressSanitizer" not in errlog and "runtime error:" not in errlog,
              "no sanitizer report in the server's log", errlog[-2000:])


def run(api, mgr, tenant, mgr_user, beta):
    # ---- users ----------------------------------------------------------------
    st, doc, resp = api.call("POST", "/v1/users", mgr, {"email": "exec@acme.example",
                                                        "role": "executor"})
    check(st == 201 and doc["email"] == "exec@acme.example" and doc["role"] == "executor"
          and ISO.match(doc["created_at"]) and resp.getheader("Location") == "/v1/users/" + doc["id"],
          "POST /v1/users: 201 with the user and Location", (st, doc))
    exec_user = doc["id"]
    st, doc, _ = api.call("POST", "/v1/users", mgr, {"email": "view@acme.example", "role": "viewer"})
    check(st == 201, "POST /v1/users viewer: 201", (st, doc))
    view_user = doc["id"]
    st, doc, _ = api.call("POST", "/v1/users", mgr, {"email": "exec@acme.example", "role": "viewer"})
    check(st == 409 and err_code(doc) == "conflict" and "exec@acme.example" in err_msg(doc)
          and exec_user in err_msg(doc), "duplicate email: 409 naming the user", (st, doc))
    st, doc, _ = api.call("POST", "/v1/users", mgr, {"email": "EXEC@Acme.Example", "role": "viewer"})
    check(st == 409 and err_code(doc) == "conflict" and exec_user in err_msg(doc),
          "the same email in other case: 409 naming the user", (st, doc))
    st, doc, _ = api.call("POST", "/v1/users", mgr, {"email": "x@acme.example", "role": "admin"})
    check(st == 400 and err_code(doc) == "invalid_field"
          and "'role' is 'admin'" in err_msg(doc) and "manager, executor, viewer" in err_msg(doc),
          "bad role: 400 listing the roles", (st, doc))
    st, doc, _ = api.call("POST", "/v1/users", mgr, {"email": "no-at-sign", "role": "viewer"})
    check(st == 400 and err_code(doc) == "invalid_field" and "field 'email'" in err_msg(doc)
          and "not an email address" in err_msg(doc), "bad email: 400", (st, doc))
    st, doc, _ = api.call("POST", "/v1/users", mgr, {"email": "y@acme.example", "role": "viewer",
                                                     "admin": True})
    check(st == 400 and "unknown field 'admin' (known: email, role)" in err_msg(doc),
          "unknown field refused", (st, doc))
    st, doc, _ = api.call("POST", "/v1/users", mgr, {"role": "viewer"})
    check(st == 400 and "field 'email' is required" in err_msg(doc), "missing email: 400",
          (st, doc))
    for i in range(5):
        st, _, _ = api.call("POST", "/v1/users", mgr, {"email": "u%d@acme.example" % i,
                                                       "role": "viewer"})
        check(st == 201, "extra user %d" % i)
    emails = sorted(["ops@acme.example", "exec@acme.example", "view@acme.example"]
                    + ["u%d@acme.example" % i for i in range(5)])
    items, npages = api.pages("/v1/users", mgr, 3)
    check([u["email"] for u in items] == emails and npages == 3,
          "GET /v1/users pages by email (limit 3: 3 pages)", ([u["email"] for u in items], npages))
    st, doc, _ = api.call("GET", "/v1/users?limit=500", mgr)
    check(st == 200 and len(doc["items"]) == 8 and doc["next_cursor"] is None,
          "GET /v1/users one page when it fits", (st, doc))
    st, doc, _ = api.call("GET", "/v1/users/" + exec_user.upper(), mgr)
    check(st == 200 and doc["id"] == exec_user and doc["email"] == "exec@acme.example",
          "GET /v1/users/{id} (upper-case id accepted)", (st, doc))
    st, doc, _ = api.call("GET", "/v1/users/00000000-0000-0000-0000-000000000000", mgr)
    check(st == 404 and err_code(doc) == "not_found", "unknown user: 404", (st, doc))
    st, doc, _ = api.call("GET", "/v1/users/nope", mgr)
    check(st == 400 and "'nope'" in err_msg(doc), "malformed user id: 400 quoting it", (st, doc))
    st, doc, _ = api.call("GET", "/v1/users/" + beta["user_id"], mgr)
    check(st == 404, "another tenant's user: 404", (st, doc))
    st, doc, _ = api.call("GET", "/v1/users?bogus=1", mgr)
    check(st == 400 and "unknown query parameter 'bogus'" in err_msg(doc),
          "unknown query parameter refused", (st, doc))

    # ---- tokens ---------------------------------------------------------------
    st, doc, _ = api.call("POST", "/v1/tokens", mgr, {"name": "ci"})
    check(st == 201 and doc["user_id"] == mgr_user and doc["name"] == "ci"
          and re.match(r"^esk_[0-9a-f]{64}$", doc["token"]) and doc["revoked_at"] is None,
          "POST /v1/tokens for self: 201 with the token", (st, doc))
    mgr2, mgr2_id = doc["token"], doc["id"]
    st, doc, _ = api.call("GET", "/v1/me", mgr2)
    check(st == 200 and doc["token_id"] == mgr2_id and doc["user_id"] == mgr_user,
          "the new token works on GET /v1/me", (st, doc))
    st, doc, _ = api.call("POST", "/v1/tokens", mgr, {"name": "exec laptop", "user_id": exec_user})
    check(st == 201 and doc["user_id"] == exec_user, "manager creates a token for another user",
          (st, doc))
    ex, ex_id = doc["token"], doc["id"]
    st, doc, _ = api.call("GET", "/v1/me", ex)
    check(st == 200 and doc["email"] == "exec@acme.example" and doc["role"] == "executor",
          "that token acts as the executor", (st, doc))
    st, doc, _ = api.call("POST", "/v1/tokens", mgr, {"name": "v", "user_id": view_user})
    view, view_id = doc["token"], doc["id"]
    st, doc, _ = api.call("POST", "/v1/tokens", mgr, {"user_id": beta["user_id"]})
    check(st == 404 and err_code(doc) == "not_found", "token for another tenant's user: 404",
          (st, doc))
    st, doc, _ = api.call("POST", "/v1/tokens", mgr, {"user_id": "bob"})
    check(st == 400 and "field 'user_id' is 'bob'" in err_msg(doc), "malformed user_id: 400",
          (st, doc))
    st, doc, _ = api.call("POST", "/v1/tokens", mgr, {"secret": "x"})
    check(st == 400 and "unknown field 'secret' (known: name, user_id)" in err_msg(doc),
          "unknown token field refused", (st, doc))
    st, doc, _ = api.call("POST", "/v1/tokens", ex, {"name": "second"})
    check(st == 201 and doc["user_id"] == exec_user, "executor creates a token for itself",
          (st, doc))
    ex2, ex2_id = doc["token"], doc["id"]
    st, doc, _ = api.call("POST", "/v1/tokens", ex, {"user_id": view_user})
    check(st == 403 and err_code(doc) == "forbidden", "executor cannot create for others: 403",
          (st, doc))
    st, doc, _ = api.call("POST", "/v1/tokens", view, {"user_id": mgr_user})
    check(st == 403, "viewer cannot create for others: 403", (st, doc))
    st, doc, _ = api.call("POST", "/v1/tokens", ex, {"user_id": exec_user.upper(), "name": "own"})
    check(st == 201 and doc["user_id"] == exec_user, "executor may name itself as user_id",
          (st, doc))
    ex3_id = doc["id"]

    all_tokens, npages = api.pages("/v1/tokens", mgr, 2)
    ids = [t["id"] for t in all_tokens]
    st, one, _ = api.call("GET", "/v1/tokens?limit=500", mgr)
    check(st == 200 and [t["id"] for t in one["items"]] == ids and len(ids) == 6 and npages == 3,
          "GET /v1/tokens (manager): all 6 tokens, paged newest first in 3 pages of 2",
          (len(ids), npages))
    check(all(set(t) == {"id", "user_id", "name", "created_at", "last_used_at", "revoked_at"}
              for t in all_tokens), "token items carry no hash or token", all_tokens[0])
    check([t["created_at"] for t in all_tokens] == sorted([t["created_at"] for t in all_tokens],
                                                         reverse=True), "newest first")
    st, doc, _ = api.call("GET", "/v1/tokens?user=" + exec_user, mgr)
    check(st == 200 and {t["id"] for t in doc["items"]} == {ex_id, ex2_id, ex3_id},
          "?user= filters a manager's list", (st, doc))
    st, doc, _ = api.call("GET", "/v1/tokens", ex)
    check(st == 200 and {t["id"] for t in doc["items"]} == {ex_id, ex2_id, ex3_id},
          "executor lists only its own tokens", (st, doc))
    st, doc, _ = api.call("GET", "/v1/tokens?user=" + mgr_user, ex)
    check(st == 403, "executor listing another user's tokens: 403", (st, doc))
    st, doc, _ = api.call("GET", "/v1/tokens?user=xyz", mgr)
    check(st == 400 and "'user' is 'xyz'" in err_msg(doc), "malformed ?user: 400", (st, doc))
    st, doc, _ = api.call("GET", "/v1/tokens?cursor=AAAA", mgr)
    check(st == 400 and "cursor" in err_msg(doc), "foreign cursor: 400", (st, doc))
    used = [t for t in all_tokens if t["id"] == mgr2_id][0]
    check(used["last_used_at"] is not None and ISO.match(used["last_used_at"]),
          "a used token shows last_used_at", used)

    st, doc, _ = api.call("DELETE", "/v1/tokens/" + mgr2_id, ex)
    check(st == 404 and err_code(doc) == "not_found", "executor revoking another's token: 404",
          (st, doc))
    st, doc, _ = api.call("DELETE", "/v1/tokens/" + ex_id, view)
    check(st == 404, "viewer revoking another's token: 404", (st, doc))
    st, doc, _ = api.call("GET", "/v1/me", mgr2)
    check(st == 200, "the manager's token still works after the refused revokes", (st, doc))
    st, doc, _ = api.call("DELETE", "/v1/tokens/" + ex2_id, ex)
    check(st == 204 and doc is None, "executor revokes its own token: 204", (st, doc))
    st, doc, _ = api.call("DELETE", "/v1/tokens/" + ex2_id, ex)
    check(st == 204, "revoking again: 204 (idempotent)", (st, doc))
    st, doc, _ = api.call("GET", "/v1/me", ex2)
    check(st == 401 and err_code(doc) == "unauthorized", "the revoked token gets 401", (st, doc))
    st, doc, _ = api.call("DELETE", "/v1/tokens/" + mgr2_id, mgr)
    check(st == 204, "manager revokes its second token", (st, doc))
    st, doc, _ = api.call("GET", "/v1/me", mgr2)
    check(st == 401, "that token gets 401 afterwards", (st, doc))
    st, doc, _ = api.call("DELETE", "/v1/tokens/" + ex3_id, mgr)
    check(st == 204, "manager revokes an executor's token", (st, doc))
    st, doc, _ = api.call("DELETE", "/v1/tokens/00000000-0000-0000-0000-000000000000", mgr)
    check(st == 404, "unknown token: 404", (st, doc))
    st, doc, _ = api.call("DELETE", "/v1/tokens/zzz", mgr)
    check(st == 400, "malformed token id: 400", (st, doc))
    st, doc, _ = api.call("GET", "/v1/tokens?user=" + exec_user, mgr)
    rev = {t["id"]: t["revoked_at"] for t in doc["items"]}
    check(rev[ex2_id] and ISO.match(rev[ex2_id]) and rev[ex3_id] and rev[ex_id] is None,
          "revoked_at shown on revoked tokens only", rev)
    check(sql("SELECT count(*) FROM api_tokens WHERE revoked_at IS NOT NULL") == "3",
          "three tokens revoked in the database")
    dump = subprocess.run(["pg_dump", URL], capture_output=True, text=True).stdout
    check(not any(t[4:] in dump for t in (mgr2, ex, ex2, view)),
          "no created token's text is in the database")

    # ---- users: roles ---------------------------------------------------------
    st, doc, _ = api.call("GET", "/v1/users", ex)
    check(st == 403, "executor cannot list users", (st, doc))
    st, doc, _ = api.call("POST", "/v1/users", view, {"email": "z@acme.example", "role": "viewer"})
    check(st == 403, "viewer cannot create users", (st, doc))

    # ---- jobs -----------------------------------------------------------------
    account = sql("INSERT INTO aws_accounts (tenant_id, account_id, role_arn) VALUES ('%s',"
                  " '111122223333', 'arn:aws:iam::111122223333:role/EscherOperator')"
                  " RETURNING id" % tenant).splitlines()[0]
    # (name, kind, state, created_at offset in s, account?)
    specs = [("q1", "account.verify", "queued", 1, True),
             ("q2", "org.discover", "queued", 2, False),
             ("l1", "account.verify", "leased", 3, True),
             ("s1", "account.verify", "succeeded", 4, True),
             ("f1", "org.discover", "failed", 5, False),
             ("c1", "org.discover", "cancelled", 6, False),
             ("t1", "account.verify", "queued", 7, False),
             ("t2", "account.verify", "queued", 7, False)]  # same created_at: id breaks the tie
    jobs = {}
    for name, kind, state, off, acct in specs:
        leased = state == "leased"
        done = state in ("succeeded", "failed", "cancelled")
        jobs[name] = sql(
            "INSERT INTO jobs (tenant_id, kind, state, payload, account_id, created_by, created_at,"
            " leased_by, lease_expires_at, finished_at, attempts, result)"
            " VALUES ('%s', '%s', '%s', '{\"n\": \"%s\"}', %s, 'ops@acme.example',"
            " timestamptz '2030-01-01 00:00:00+00' + interval '%d s' + interval '0.123456 s',"
            " %s, %s, %s, %d, %s) RETURNING id"
            % (tenant, kind, state, name, ("'%s'" % account) if acct else "NULL", off,
               "'w1'" if leased else "NULL", "now() + interval '1 hour'" if leased else "NULL",
               "now()" if done else "NULL", 1 if (leased or done) else 0,
               "'{\"ok\": true}'" if state == "succeeded" else "NULL")).splitlines()[0]
    sql("INSERT INTO job_steps (job_id, tenant_id, seq, name, state, detail, finished_at) VALUES"
        " ('%(j)s', '%(t)s', 2, 'verify', 'done', '{\"arn\": \"x\"}', now()),"
        " ('%(j)s', '%(t)s', 1, 'assume', 'done', NULL, now()),"
        " ('%(j)s', '%(t)s', 3, 'record', 'begun', NULL, NULL)" % {"j": jobs["s1"], "t": tenant})
    beta_job = sql("INSERT INTO jobs (tenant_id, kind) VALUES ('%s', 'account.verify') RETURNING id"
                   % beta["tenant_id"]).splitlines()[0]

    t_ids = sorted([jobs["t1"], jobs["t2"]], reverse=True)
    newest = t_ids + [jobs[n] for n in ("c1", "f1", "s1", "l1", "q2", "q1")]
    st, doc, _ = api.call("GET", "/v1/jobs", view)
    check(st == 200 and [j["id"] for j in doc["items"]] == newest and doc["next_cursor"] is None,
          "GET /v1/jobs: the tenant's jobs newest first (ties by id), not beta's",
          (st, [j["id"] for j in doc.get("items", [])], newest))
    j0 = [j for j in doc["items"] if j["id"] == jobs["s1"]][0]
    want_keys = {"id", "kind", "state", "payload", "result", "attempts", "max_attempts",
                 "last_error", "created_by", "account_id", "run_at", "created_at", "updated_at",
                 "finished_at", "cancel_requested"}
    check(set(j0) == want_keys and j0["payload"] == {"n": "s1"} and j0["result"] == {"ok": True}
          and j0["account_id"] == account and j0["created_at"] == "2030-01-01T00:00:04Z"
          and ISO.match(j0["finished_at"]) and j0["cancel_requested"] is False,
          "job JSON fields", j0)
    for lim in (1, 2, 3):
        items, npages = api.pages("/v1/jobs", view, lim)
        check([j["id"] for j in items] == newest and npages == -(-len(newest) // lim),
              "jobs paging with limit %d walks every job once, in order" % lim,
              ([j["id"] for j in items], npages))

    def ids_of(q):
        st, doc, _ = api.call("GET", "/v1/jobs?" + q, view)
        if st != 200:
            return (st, doc)
        return [j["id"] for j in doc["items"]]

    check(ids_of("state=queued") == t_ids + [jobs["q2"], jobs["q1"]], "?state=queued")
    check(ids_of("state=leased") == [jobs["l1"]], "?state=leased")
    check(ids_of("kind=org.discover") == [jobs["c1"], jobs["f1"], jobs["q2"]], "?kind=org.discover")
    check(ids_of("account=" + account) == [jobs["s1"], jobs["l1"], jobs["q1"]], "?account=<uuid>")
    check(ids_of("kind=account.verify&state=queued&account=" + account.upper()) == [jobs["q1"]],
          "filters combine (and the account uuid may be upper case)")
    check(ids_of("kind=nothing.here") == [], "a kind with no jobs: empty list")
    items, _ = api.pages("/v1/jobs?kind=account.verify", view, 2)
    check([j["id"] for j in items] == t_ids + [jobs["s1"], jobs["l1"], jobs["q1"]],
          "filtered paging keeps the filter")
    for q, needle in (("state=running", "'state' is 'running'"),
                      ("kind=Bad%20Kind", "'kind' is 'Bad Kind'"),
                      ("account=123", "'account' is '123'"),
                      ("limit=0", "'limit'"), ("limit=501", "'limit'"),
                      ("cursor=%21%21", "'cursor'"), ("owner=me", "unknown query parameter")):
        st, doc, _ = api.call("GET", "/v1/jobs?" + q, view)
        check(st == 400 and needle in err_msg(doc), "?%s: 400 naming it" % q, (st, doc))
    st, doc, _ = api.call("GET", "/v1/jobs?state=nope", view)
    check("queued, leased, succeeded, failed or cancelled" in err_msg(doc),
          "bad state message lists the states", doc)
    # A cursor of the right encoding but a forged key is refused too.
    forged = base64.urlsafe_b64encode(b"2030-01-01T00:00:04Z|x").decode().rstrip("=")
    st, doc, _ = api.call("GET", "/v1/jobs?cursor=" + forged, view)
    check(st == 400 and err_code(doc) == "invalid_query", "forged cursor key: 400", (st, doc))

    st, doc, _ = api.call("GET", "/v1/jobs/" + jobs["s1"], view)
    check(st == 200 and [s["seq"] for s in doc["steps"]] == [1, 2, 3]
          and [s["name"] for s in doc["steps"]] == ["assume", "verify", "record"]
          and doc["steps"][1]["detail"] == {"arn": "x"} and doc["steps"][2]["finished_at"] is None
          and ISO.match(doc["steps"][0]["started_at"])
          and set(doc["steps"][0]) == {"seq", "name", "state", "detail", "started_at",
                                       "finished_at"},
          "GET /v1/jobs/{id}: steps in seq order", (st, doc))
    st, doc, _ = api.call("GET", "/v1/jobs/" + jobs["q1"], view)
    check(st == 200 and doc["steps"] == [] and set(doc) == want_keys | {"steps"},
          "a job without steps: steps []", (st, doc))
    st, doc, _ = api.call("GET", "/v1/jobs/" + beta_job, mgr)
    check(st == 404, "another tenant's job: 404", (st, doc))
    st, doc, _ = api.call("GET", "/v1/jobs/not-a-uuid", mgr)
    check(st == 400 and "'not-a-uuid'" in err_msg(doc), "malformed job id: 400", (st, doc))

    st, doc, _ = api.call("POST", "/v1/jobs/" + jobs["q1"] + "/cancel", ex)
    check(st == 200 and doc["cancel"] == "cancelled" and doc["state"] == "cancelled"
          and doc["finished_at"] is not None and doc["id"] == jobs["q1"],
          "cancel a queued job: 200 cancelled", (st, doc))
    st, doc, _ = api.call("POST", "/v1/jobs/" + jobs["l1"] + "/cancel", mgr)
    check(st == 200 and doc["cancel"] == "requested" and doc["state"] == "leased"
          and doc["cancel_requested"] is True, "cancel a leased job: requested", (st, doc))
    for name in ("s1", "f1", "c1", "q1"):
        st, doc, _ = api.call("POST", "/v1/jobs/" + jobs[name] + "/cancel", ex)
        check(st == 409 and err_code(doc) == "conflict" and "already finished" in err_msg(doc),
              "cancel a finished job (%s): 409" % name, (st, doc))
    check(sql("SELECT state FROM jobs WHERE id = '%s'" % jobs["s1"]) == "succeeded",
          "a refused cancel changed nothing")
    st, doc, _ = api.call("POST", "/v1/jobs/" + beta_job + "/cancel", mgr)
    check(st == 404, "cancel another tenant's job: 404", (st, doc))
    check(sql("SELECT state FROM jobs WHERE id = '%s'" % beta_job) == "queued",
          "beta's job untouched")
    st, doc, _ = api.call("POST", "/v1/jobs/" + jobs["q2"] + "/cancel", view)
    check(st == 403, "viewer cannot cancel", (st, doc))

    # ---- audit ----------------------------------------------------------------
    st, doc, _ = api.call("GET", "/v1/audit?limit=500", mgr)
    check(st == 200 and doc["next_cursor"] is None, "GET /v1/audit", (st, doc))
    rows = doc["items"]
    seqs = [r["seq"] for r in rows]
    check(seqs == list(range(len(rows), 0, -1)), "audit rows newest first by seq, gapless", seqs)
    acts = [(r["action"], r["actor"]) for r in reversed(rows)]
    want = ([("tenant.bootstrap", "cli:escher-api bootstrap")]
            + [("users.create", "ops@acme.example")] * 7
            + [("tokens.create", "ops@acme.example")] * 3
            + [("tokens.create", "exec@acme.example")] * 2
            + [("tokens.revoke", "exec@acme.example"), ("tokens.revoke", "ops@acme.example"),
               ("tokens.revoke", "ops@acme.example"),
               ("jobs.cancel", "exec@acme.example"), ("jobs.cancel", "ops@acme.example")])
    check(acts == want, "every mutation audited once, actor = the caller's email", acts)
    by = {}
    for r in rows:
        by.setdefault(r["action"], []).append(r)
    check(by["users.create"][-1]["target"] == "user:" + exec_user
          and by["users.create"][-1]["detail"]["email"] == "exec@acme.example"
          and by["users.create"][-1]["detail"]["role"] == "executor"
          and by["users.create"][-1]["detail"].get("request_id"), "users.create row", by["users.create"][-1])
    check(by["tokens.create"][-1]["target"] == "token:" + mgr2_id
          and by["tokens.create"][-1]["detail"]["name"] == "ci", "tokens.create row",
          by["tokens.create"][-1])
    check(by["tokens.revoke"][-1]["target"] == "token:" + ex2_id, "tokens.revoke row",
          by["tokens.revoke"][-1])
    check(by["jobs.cancel"][-1]["target"] == "job:" + jobs["q1"]
          and by["jobs.cancel"][-1]["detail"]["cancel"] == "cancelled"
          and by["jobs.cancel"][0]["detail"]["cancel"] == "requested"
          and by["jobs.cancel"][0]["detail"]["kind"] == "account.verify", "jobs.cancel rows",
          by["jobs.cancel"])
    text = json.dumps(rows)
    check(not any(t in text or t[4:] in text for t in (mgr, mgr2, ex, ex2, view))
          and "token_sha256" not in text, "no token or hash in audit details")
    check(all(re.match(r"^[0-9a-f]{64}$", r["hash"]) and re.match(r"^[0-9a-f]{64}$", r["prev_hash"])
              for r in rows), "hash and prev_hash in hex")
    check(all(rows[i]["prev_hash"] == rows[i + 1]["hash"] for i in range(len(rows) - 1))
          and rows[-1]["prev_hash"] == "0" * 64, "prev_hash links to the previous row's hash")
    bad = [r["seq"] for r in rows if audit_row_hash(tenant, r) != r["hash"]]
    check(not bad, "each row's hash recomputes from the answer alone (at to the microsecond)", bad)
    items, npages = api.pages("/v1/audit", view, 4)
    check(items == rows and npages == -(-len(rows) // 4), "audit paging (viewer, limit 4)",
          npages)
    st, doc, _ = api.call("GET", "/v1/audit?action=tokens.revoke", mgr)
    check(st == 200 and [r["seq"] for r in doc["items"]] == [r["seq"] for r in by["tokens.revoke"]],
          "?action filters", (st, doc))
    items, _ = api.pages("/v1/audit?action=users.create", mgr, 3)
    check([r["seq"] for r in items] == [r["seq"] for r in by["users.create"]],
          "?action with paging")
    for q in ("action=Bad%20Action", "cursor=" + base64.urlsafe_b64encode(b"abc").decode(),
              "cursor=" + base64.urlsafe_b64encode(b"0").decode().rstrip("="), "seq=1"):
        st, doc, _ = api.call("GET", "/v1/audit?" + q, mgr)
        check(st == 400, "GET /v1/audit?%s: 400" % q, (st, doc))
    st, doc, _ = api.call("GET", "/v1/audit", ex)
    check(st == 403, "executor cannot read the audit log", (st, doc))
    st, doc, _ = api.call("GET", "/v1/audit/verify", ex)
    check(st == 403, "executor cannot verify", (st, doc))

    st, doc, _ = api.call("GET", "/v1/audit/verify", view)
    check(st == 200 and doc == {"intact": True, "rows_checked": len(rows), "last_seq": len(rows),
                                "first_broken_seq": None, "reason": None},
          "GET /v1/audit/verify: intact", (st, doc))
    st, doc, _ = api.call("GET", "/v1/audit", beta["api_token"])
    check(st == 200 and [r["action"] for r in doc["items"]] == ["tenant.bootstrap"],
          "beta sees only its own audit row", (st, doc))
    victim = by["tokens.create"][0]["seq"]
    sql("UPDATE audit_log SET detail = jsonb_set(detail, '{name}', '\"evil\"')"
        " WHERE tenant_id = '%s' AND seq = %d" % (tenant, victim))
    st, doc, _ = api.call("GET", "/v1/audit/verify", mgr)
    check(st == 200 and doc["intact"] is False and doc["first_broken_seq"] == victim
          and doc["rows_checked"] == victim and ("seq %d" % victim) in doc["reason"],
          "tampered row: verify names seq %d" % victim, (st, doc))
    st, doc, _ = api.call("GET", "/v1/audit/verify", beta["api_token"])
    check(st == 200 and doc["intact"] is True and doc["rows_checked"] == 1,
          "beta's chain still intact", (st, doc))
    st, doc, _ = api.call("GET", "/v1/audit/verify?x=1", mgr)
    check(st == 400, "verify takes no query parameters", (st, doc))


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # a setup failure is a test failure, with its reason
        import traceback
        traceback.print_exc()
        failures.append("exception: %s" % exc)
    finally:
        try:
            psql(PG, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % DB)
        except RuntimeError as exc:
            print("cleanup: %s" % exc)
        subprocess.run(["rm", "-rf", TMP])
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all api_routes_users checks passed")
