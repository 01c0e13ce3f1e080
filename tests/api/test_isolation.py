#!/usr/bin/python3
"""Tenant isolation: tenant B never sees or touches tenant A's objects.

Usage: test_isolation.py ESCHER_API_BINARY

- Tenant A gets an account (POST /v1/accounts, verify false), a second one
  whose verification job the API queues, a job enqueued in the database, a
  user (POST /v1/users) and a token for it (POST /v1/tokens), a schedule
  (POST /v1/schedules) and a fire of it recorded in the database.
- On every route of `escher-api routes` with an {id}, each of B's roles the
  route admits gets 404 for each of A's ids of that kind (accounts also by
  their 12-digit AWS id), with a valid body where the route takes one; then
  A's objects are checked unchanged.
- Every list and read route without an {id}, as each of B's admitted roles
  (all pages), and the filters that name A's objects (?account, ?user), show
  none of A's ids, emails, account numbers or ExternalId.
- Row-level security: psql as a login role that is a member of escher_api
  sees no row of any tenant table without escher.tenant_id set, sees the
  tenant's rows with it, and cannot insert a row for another tenant.
"""
import urllib.parse

import apitest

TABLES = ("tenants", "users", "api_tokens", "aws_accounts", "jobs", "job_steps", "audit_log",
          "schedules", "schedule_fires", "notification_channels")


def a_objects(stack, fx, res):
    """A's objects: {kind: [ids]}, and every string that identifies them."""
    A = stack.tenants["A"]
    c = stack.client
    m = A.tokens["manager"]
    acct = fx.account(A)
    acct2 = fx.account(A, verify=True)
    res.check(bool(acct2.get("verification_job")), "A's second account queued a verification job",
              str(acct2))
    job = fx.job(A, acct["id"])
    # A step, as a worker records it, so job_steps has a row of A's too.
    stack.db.value("INSERT INTO job_steps (job_id, tenant_id, seq, name, state)"
                   " VALUES (:'v1', :'v2', 1, 'fixture', 'done') RETURNING seq", job, A.id)
    user = stack.expect(c.call("POST", "/v1/users", {"email": "secret-user@a.example", "role": "executor"}, m),
                        201, "A: POST /v1/users")
    tok = stack.expect(c.call("POST", "/v1/tokens", {"user_id": user["id"], "name": "a-secret-token"}, m),
                       201, "A: POST /v1/tokens for the new user")
    sched = fx.schedule(A)
    # A fire, as escher-scheduler records it, so schedule_fires has a row of A's too.
    stack.db.value("INSERT INTO schedule_fires (schedule_id, fire_at, tenant_id, job_id)"
                   " VALUES (:'v1', now(), :'v2', :'v3') RETURNING 1", sched["id"], A.id, job)
    chan = fx.channel(A)
    ids = {
        "channel": [chan["id"]],
        "schedule": [sched["id"]],
        "account": [acct["id"], acct["account_id"], acct2["id"]],
        "user": [user["id"], A.users["manager"]],
        "token": [tok["id"], A.token_ids["manager"]],
        "job": [job, acct2["verification_job"]],
    }
    secrets_ = {A.id, A.external_id, acct["id"], acct["account_id"], acct2["id"], acct2["account_id"],
                job, acct2["verification_job"], user["id"], "secret-user@a.example", tok["id"],
                "a-secret-token", sched["id"], sched["name"], *A.users.values(),
                *A.token_ids.values(), *A.emails.values(), chan["id"], chan["name"]}
    return ids, secrets_, {"acct": acct, "acct2": acct2, "job": job, "user": user, "token": tok,
                           "schedule": sched, "channel": chan}


def body_for(route):
    if route.method == "PATCH":
        return {"name": "taken over by B"}
    return None


def run(stack, routes, res):
    fx = apitest.Fixtures(stack)
    c = stack.client
    A, B = stack.tenants["A"], stack.tenants["B"]
    ids, a_strings, objs = a_objects(stack, fx, res)
    fx.account(B)  # B has objects of its own, so an empty answer is not the only one
    fx.job(B)
    fx.schedule(B)
    fx.channel(B)

    # ---- routes with an {id}: 404 for every one of A's ids ------------------------
    rows = []
    for route in routes:
        if not route.params:
            continue
        try:
            kind = apitest.kind_of(route)
        except KeyError as e:
            res.check(False, str(e))
            continue
        for role in apitest.ROLES:
            if role not in route.roles:
                continue
            statuses = []
            for obj in ids[kind]:
                path = route.path(id=urllib.parse.quote(obj, safe=""))
                a = c.call(route.method, path, body_for(route), token=B.tokens[role])
                good = a.status == 404 and a.error and a.error.get("code") == "not_found"
                res.check(good, f"B's {role}: {route.method} {path} (A's {kind}) -> 404",
                          a.short())
                leaked = [s for s in a_strings if s in a.body.decode("utf-8", "replace")
                          and s != obj]
                res.check(not leaked, f"B's {role}: {route.method} {path}: the 404 names nothing else of A",
                          f"{leaked} in {a.short()}")
                statuses.append(str(a.status) + ("" if good else " !"))
            rows.append([str(route), f"B {role}", kind, " ".join(statuses)])
    print("\nTenant B on A's ids ('!' marks an unexpected status):")
    apitest.print_table(["route", "caller", "A's object", "statuses"], rows)
    print()

    # A's objects are as they were.
    m = A.tokens["manager"]
    a = c.call("GET", f"/v1/accounts/{objs['acct']['id']}", token=m)
    res.check(a.status == 200 and a.json.get("name") == objs["acct"]["name"],
              "A's account is still there, unrenamed", a.short())
    a = c.call("GET", f"/v1/accounts/{objs['acct2']['id']}", token=m)
    res.check(a.status == 200, "A's second account is still there", a.short())
    a = c.call("GET", "/v1/me", token=objs["token"]["token"])
    res.check(a.status == 200, "A's new token was not revoked by B", a.short())
    a = c.call("GET", "/v1/me", token=m)
    res.check(a.status == 200, "A's manager token was not revoked by B", a.short())
    for job in ids["job"]:
        a = c.call("GET", f"/v1/jobs/{job}", token=m)
        res.check(a.status == 200 and a.json.get("state") == "queued"
                  and not a.json.get("cancel_requested"),
                  f"A's job {job} is still queued, not cancelled", a.short())
    a = c.call("GET", f"/v1/users/{objs['user']['id']}", token=m)
    res.check(a.status == 200, "A's new user is still there", a.short())
    a = c.call("GET", f"/v1/schedules/{objs['schedule']['id']}", token=m)
    res.check(a.status == 200 and a.json.get("name") == objs["schedule"]["name"],
              "A's schedule is still there, unrenamed", a.short())

    # ---- reads without an {id}: nothing of A's ------------------------------------
    reads = [r for r in routes if r.method == "GET" and not r.params and not r.public]
    extra = [f"/v1/jobs?account={objs['acct']['id']}", f"/v1/jobs?account={objs['acct2']['id']}",
             f"/v1/tokens?user={objs['user']['id']}", f"/v1/tokens?user={A.users['manager']}",
             f"/v1/accounts?status=pending", "/v1/jobs?kind=account.verify&state=queued",
             "/v1/audit?action=tokens.create", "/v1/audit?action=accounts.create"]
    checked = 0
    for role in apitest.ROLES:
        for route in reads:
            if role in route.roles:
                checked += read_all(c, route.pattern, B.tokens[role], a_strings, res, f"B's {role}")
        for path in extra:
            checked += read_all(c, path, B.tokens[role], a_strings, res, f"B's {role}",
                                allow_forbidden=True)
    res.ok(f"{checked} list and read answers of tenant B show nothing of tenant A")
    # A sees its own, so the strings searched for are the right ones.
    a = c.call("GET", "/v1/accounts?limit=500", token=m)
    res.check(a.status == 200 and objs["acct"]["account_id"] in a.body.decode(),
              "A's own account list shows A's account (control)", a.short())

    # ---- row-level security in the database --------------------------------------
    rls(stack, res)


def read_all(c, path, token, a_strings, res, who, allow_forbidden=False):
    """Reads path and every following page; fails on any of A's strings."""
    pages = 0
    cursor = None
    while True:
        p = path
        if cursor:
            p += ("&" if "?" in p else "?") + "cursor=" + urllib.parse.quote(cursor)
        a = c.call("GET", p, token=token)
        if allow_forbidden and a.status == 403:
            return pages
        if not res.check(a.status == 200, f"{who}: GET {p} -> 200", a.short()):
            return pages
        text = a.body.decode("utf-8", "replace")
        leaked = sorted(s for s in a_strings if s in text)
        res.check(not leaked, f"{who}: GET {p} shows nothing of tenant A", f"{leaked}")
        pages += 1
        cursor = a.json.get("next_cursor") if isinstance(a.json, dict) else None
        if not cursor or pages > 50:
            return pages


def rls(stack, res):
    db = stack.db
    A, B = stack.tenants["A"], stack.tenants["B"]
    url = db.login_role("escher_api")
    who = apitest.psql(db.url, "SELECT 1", user_url=url)
    res.check(who == [["1"]], "psql connects as a login member of escher_api")
    totals = {t: int(db.value(f"SELECT count(*) FROM {t}")) for t in TABLES}
    res.check(all(totals[t] > 0 for t in TABLES),
              "as the superuser every tenant table has rows", str(totals))
    rows = []
    for table in TABLES:
        bare = apitest.psql(db.url, f"SELECT count(*) FROM {table}", user_url=url)[0][0]
        mine = apitest.psql(
            db.url,
            "BEGIN; SELECT set_config('escher.tenant_id', :'v1', true) \\g /dev/null\n"
            f"SELECT count(*), count(*) FILTER (WHERE {'id' if table == 'tenants' else 'tenant_id'}"
            " <> :'v1'::uuid) FROM " + table + "; COMMIT;",
            A.id, user_url=url)[0]
        rows.append([table, totals[table], bare, mine[0], mine[1]])
        res.check(bare == "0", f"RLS: SELECT count(*) FROM {table} without escher.tenant_id is 0",
                  f"got {bare}")
        res.check(mine[1] == "0", f"RLS: with tenant A set, {table} shows no other tenant's row",
                  f"got {mine[1]}")
        res.check(int(mine[0]) > 0, f"RLS: with tenant A set, {table} shows A's rows (control)",
                  f"got {mine[0]}")
    print("\nRow-level security, psql as a login member of escher_api:")
    apitest.print_table(["table", "rows (superuser)", "no tenant set", "tenant A set",
                         "of which not A's"], rows)
    print()
    # WITH CHECK: a row for B written while A is set is refused.
    try:
        apitest.psql(db.url,
                     "BEGIN; SELECT set_config('escher.tenant_id', :'v1', true) \\g /dev/null\n"
                     "INSERT INTO users (tenant_id, email, role) VALUES (:'v2', 'x@b.example', 'viewer');"
                     " COMMIT;", A.id, B.id, user_url=url)
        res.check(False, "RLS: inserting a user for tenant B while tenant A is set is refused")
    except RuntimeError as e:
        res.check("row-level security" in str(e),
                  "RLS: inserting a user for tenant B while tenant A is set is refused", str(e))


if __name__ == "__main__":
    apitest.main("api_acceptance_isolation", "iso", run)
