#!/usr/bin/python3
"""The RBAC matrix: every route of `escher-api routes` x {manager, executor,
viewer, no token, revoked token, malformed token}.

Usage: test_rbac.py ESCHER_API_BINARY

- no token, a revoked token and a malformed one: 401 on every route that
  takes a token (public routes: 200 whatever is sent);
- a role the route does not admit: 403, before the handler runs;
- an admitted role: the route's success status, with real ids of the
  caller's tenant in the path and a valid body (fresh objects for the
  mutating routes, so each call succeeds on its own).
The matrix is printed as a table. Tenant B is the caller throughout, so the
objects come from a tenant that also has a neighbour (A).
"""

import apitest

MALFORMED = [
    "Bearer esk_not-a-token",
    "Bearer " + "ab" * 32,           # 64 hex digits without the esk_ prefix
    "Basic dXNlcjpwYXNz",            # another scheme
    "Bearer ",                       # nothing after the scheme
    "Bearer esk_" + "G" * 64,        # right length, not hex
]


def run(stack, routes, res):
    fx = apitest.Fixtures(stack)
    c = stack.client
    t = stack.tenants["B"]
    columns = ["manager", "executor", "viewer", "no token", "revoked", "malformed"]
    rows = []
    unknown_token = "esk_" + "0" * 64
    for i, route in enumerate(routes):
        row = [str(route), ",".join(r for r in apitest.ROLES if r in route.roles) or "public"]
        for col in columns:
            if col in apitest.ROLES:
                token, auth = t.tokens[col], None
            elif col == "no token":
                token, auth = None, None
            elif col == "revoked":
                token, auth = t.revoked, None
            else:
                token, auth = None, MALFORMED[i % len(MALFORMED)]
            admitted = route.public or col in route.roles
            try:
                path, body = fx.make(route, t, col if col in apitest.ROLES else "manager")
            except KeyError:
                res.check(False, f"{route}: no fixture in tests/api/apitest.py Fixtures.make")
                row.append("?")
                continue
            a = c.call(route.method, path, body, token=token, auth=auth)
            if route.public:
                want = {200}
            elif col in ("no token", "revoked", "malformed"):
                want = {401}
            elif not admitted:
                want = {403}
            else:
                want = {apitest.success_status(route)}
            good = a.status in want
            if good and a.status == 401:
                good = res.check(a.error and a.error.get("code") == "unauthorized",
                                 f"{route} [{col}]: 401 has code unauthorized", a.short())
            if good and a.status == 403:
                good = res.check(a.error and a.error.get("code") == "forbidden"
                                 and t.tokens.get(col, "") not in a.body.decode()
                                 and col in a.message,
                                 f"{route} [{col}]: 403 is code forbidden naming the role", a.short())
            res.check(good, f"{route} [{col}] -> {a.status}, want {sorted(want)}",
                      f"path {path} body {body} -> {a.short()}")
            row.append(f"{a.status}{'' if good else ' !'}")
        rows.append(row)

    # Beyond the columns: a well-formed but unknown token is 401 too, and
    # handler-level role checks (a non-manager acting for another user).
    a = c.call("GET", "/v1/me", token=unknown_token)
    res.check(a.status == 401, "an unknown well-formed token is 401", a.short())
    for role in ("executor", "viewer"):
        a = c.call("POST", "/v1/tokens", {"user_id": t.users["manager"]}, token=t.tokens[role])
        res.check(a.status == 403, f"{role} POST /v1/tokens for another user is 403", a.short())
        a = c.call("GET", f"/v1/tokens?user={t.users['manager']}", token=t.tokens[role])
        res.check(a.status == 403, f"{role} GET /v1/tokens?user=<another user> is 403", a.short())
        a = c.call("DELETE", f"/v1/tokens/{t.token_ids['manager']}", token=t.tokens[role])
        res.check(a.status == 404, f"{role} DELETE of another user's token is 404", a.short())
    a = c.call("GET", "/v1/me", token=t.tokens["manager"])
    res.check(a.status == 200, "the manager's token still works after the others' attempts",
              a.short())

    print()
    print("RBAC matrix (tenant B; '!' marks an unexpected status):")
    apitest.print_table(["route", "admits"] + columns, rows)
    print()
    bad = [r for r in rows if any(str(x).endswith("!") or x == "?" for x in r)]
    if not bad:
        res.ok(f"RBAC matrix: {len(rows)} routes x {len(columns)} callers as expected")


if __name__ == "__main__":
    apitest.main("api_acceptance_rbac", "rbac", run)
