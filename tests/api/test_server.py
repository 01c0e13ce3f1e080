#!/usr/bin/python3
"""escher-api's HTTP edge: request ids, the rate limit, SO_REUSEPORT.

Usage: test_server.py ESCHER_API_BINARY

- Every answer carries X-Request-Id and every error the same request_id in
  its body (also 401, 403, 404 without a route, 405, 413); a client's own
  plain X-Request-Id of 8 to 64 characters is kept, any other is replaced.
- 429: a second server with --token-rate 5 --token-burst 5 answers 429 with
  Retry-After (and the error object) once one token exceeds the burst, while
  another token and /healthz are unaffected, and serves the token again
  after Retry-After.
- SO_REUSEPORT: a second escher-api started with the first one's --port
  serves too (both log requests), and the port keeps serving when the first
  one stops.
- Many requests at once on two loops all succeed.
"""
import json
import re
import threading
import time

import apitest


def run(stack, routes, res):
    c = stack.client
    t = stack.tenants["A"]
    request_ids(c, t, res)
    http_edges(c, t, res)
    paging(stack, routes, t, res)
    races(stack, t, res)
    rate_limit(stack, t, res)
    reuseport(stack, res)
    concurrency(c, t, res)


def http_edges(c, t, res):
    m = t.tokens["manager"]
    for method, path, want in [("HEAD", "/v1/me", 405), ("OPTIONS", "/v1/accounts", 405),
                               ("GET", "/v1/me/", 404), ("GET", "//v1/me", 404),
                               ("GET", "/v1//me", 404), ("GET", "/V1/ME", 404),
                               ("GET", "/v1/accounts/", 404), ("GET", "/v1", 404), ("GET", "/", 404),
                               ("DELETE", "/v1/accounts", 405), ("PUT", "/v1/accounts/x", 405)]:
        a = c.call(method, path, token=m)
        res.check(a.status == want, f"{method} {path} -> {want}", a.short())
        if want == 405:
            res.check(bool(a.headers.get("allow")), f"{method} {path}: 405 has Allow",
                      str(a.headers))
    for auth in ("bearer " + m, "Bearer  " + m + "  ", "BEARER " + m):
        a = c.call("GET", "/v1/me", auth=auth)
        res.check(a.status == 200, f"Authorization {auth[:9]!r}...: the scheme is case-insensitive "
                  "and blanks around the token are ignored", a.short())
    a = c.call("GET", "/v1/me", auth="Bearer " + m.upper())
    res.check(a.status == 401, "an upper-cased token is not the token", a.short())


def paging(stack, routes, t, res):
    """Every list walked with limit 1 and 2 gives the same rows, once each,
    in the same order, as one page of 500."""
    c = stack.client
    m = t.tokens["manager"]
    fx = apitest.Fixtures(stack)
    for _ in range(3):  # a few rows in every list
        fx.account(t, verify=True)
        c.call("POST", "/v1/tokens", {"name": "paging"}, token=m)
    lists = []
    for r in routes:
        if r.method != "GET" or r.params or r.public or "manager" not in r.roles:
            continue
        a = c.call("GET", r.pattern + "?limit=500", token=m)
        if isinstance(a.json, dict) and "items" in a.json and "next_cursor" in a.json:
            lists.append((r.pattern, a.json["items"]))
            res.check(a.json["next_cursor"] is None, f"GET {r.pattern}?limit=500: one page",
                      a.short())
    for pattern, full in lists:
        key = "seq" if pattern == "/v1/audit" else "id"
        want = [row[key] for row in full]
        for limit in (1, 2):
            got, cursor, pages = [], None, 0
            while pages <= len(want) + 2:
                q = f"{pattern}?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
                a = c.call("GET", q, token=m)
                if not res.check(a.status == 200, f"GET {q} -> 200", a.short()):
                    break
                pages += 1
                res.check(len(a.json["items"]) <= limit, f"GET {q}: at most {limit} items")
                got += [row[key] for row in a.json["items"]]
                cursor = a.json["next_cursor"]
                if not cursor:
                    break
            res.check(got == want, f"GET {pattern} in pages of {limit}: the same {len(want)} rows "
                      "in the same order, once each", f"{got} vs {want}")
    res.ok(f"paging: {len(lists)} lists walked with limit 1 and 2 ({', '.join(p for p, _ in lists)})")


def races(stack, t, res):
    """The same creation sent twice at once: one 201 and one 409, never 5xx."""
    c = stack.client
    m = t.tokens["manager"]
    acct = apitest.fresh_account_id()
    cases = [("POST", "/v1/users", {"email": "race@a.example", "role": "viewer"}),
             ("POST", "/v1/accounts", {"role_arn": apitest.role_arn(acct), "verify": True})]
    for method, path, body in cases:
        for attempt in range(25):  # narrow race: CI once hit it in 3 rounds
            out = []
            b = dict(body)
            if path == "/v1/users":
                b["email"] = f"race{attempt}@a.example"
            else:
                b["role_arn"] = apitest.role_arn(apitest.fresh_account_id())
            threads = [threading.Thread(target=lambda: out.append(c.call(method, path, b, token=m)))
                       for _ in range(4)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            codes = sorted(a.status for a in out)
            res.check(codes == [201, 409, 409, 409],
                      f"{method} {path} x4 at once with one {'email' if 'users' in path else 'account'}:"
                      " one 201, three 409", " | ".join(a.short() for a in out))
    # Revoking one token from two requests at once: both 204, one audit row.
    tok = c.call("POST", "/v1/tokens", {"name": "race"}, token=m).json
    out = []
    threads = [threading.Thread(target=lambda: out.append(c.call("DELETE", f"/v1/tokens/{tok['id']}",
                                                                  token=m))) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    res.check(sorted(a.status for a in out) == [204] * 4, "DELETE /v1/tokens/{id} x4 at once: all 204",
              " | ".join(a.short() for a in out))
    n = stack.db.value("SELECT count(*) FROM audit_log WHERE action = 'tokens.revoke'"
                       " AND target = 'token:' || :'v1'", tok["id"])
    res.check(n == "1", "... and one tokens.revoke audit row", f"{n} rows")


def request_ids(c, t, res):
    m = t.tokens["manager"]
    cases = [("GET", "/healthz", None, None), ("GET", "/v1/me", None, m),
             ("GET", "/v1/me", None, None), ("GET", "/v1/users", None, t.tokens["viewer"]),
             ("GET", "/v1/nothing-here", None, m), ("PUT", "/v1/me", None, m),
             ("POST", "/v1/users", b"{", m), ("POST", "/v1/tokens", b"{" + b" " * 1_100_000 + b"}", m)]
    seen = set()
    for method, path, body, token in cases:
        a = c.call(method, path, body, token=token)
        rid = a.headers.get("x-request-id")
        if path == "/v1/tokens":
            res.check(a.status == 413 and a.error and a.error.get("code") == "body_too_large",
                      "a body over the default --max-body-bytes (1 MiB) -> 413 body_too_large",
                      a.short())
        res.check(rid is not None and re.fullmatch(r"req_[0-9a-f]{24}", rid) is not None,
                  f"{method} {path} -> {a.status}: a generated X-Request-Id", str(rid))
        res.check(rid not in seen, f"{method} {path}: the request id is new", rid)
        seen.add(rid)
    a = c.call("PUT", "/v1/me", token=m)
    res.check(a.status == 405 and a.headers.get("allow") == "GET",
              "PUT /v1/me -> 405 with Allow: GET", a.short())
    a = c.call("GET", "/v1/nothing-here", token=m)
    res.check(a.status == 404 and a.error and a.error.get("code") == "not_found",
              "an unknown path -> 404 not_found", a.short())
    for sent, kept in [("trace-1234.abc_XYZ", True), ("abc", False), ("a b c d e f g h", False),
                       ("x" * 64, True), ("x" * 65, False), ("id\"quote'1234", False)]:
        for path, token in (("/v1/me", m), ("/v1/me", None)):
            a = c.call("GET", path, token=token, headers={"X-Request-Id": sent})
            rid = a.headers.get("x-request-id")
            res.check((rid == sent) == kept,
                      f"X-Request-Id {sent[:20]!r} is {'kept' if kept else 'replaced'} ({a.status})",
                      f"answer id {rid!r}")
            if a.error:
                res.check(a.error.get("request_id") == rid, "the error's request_id is the header's")
    res.ok("request ids: generated, unique, kept when plain, echoed in errors")


def rate_limit(stack, t, res):
    s = stack.start(("--token-rate", "5", "--token-burst", "5"))
    c = apitest.Client(s.port, res)
    m, v = t.tokens["manager"], t.tokens["viewer"]
    statuses = []
    limited = None
    # Until a 429, at most 100 (a slow machine refills the bucket between
    # requests, at 5 a second); usually the sixth or seventh.
    while limited is None and len(statuses) < 100:
        a = c.call("GET", "/v1/me", token=m)
        statuses.append(a.status)
        if a.status == 429:
            limited = a
    res.check(statuses[:5] == [200] * 5, "--token-burst 5: the first five requests pass",
              str(statuses))
    res.check(limited is not None, "--token-rate 5: quick requests of one token meet 429",
              str(statuses))
    if limited is not None:
        ra = limited.headers.get("retry-after", "")
        res.check(ra.isdigit() and int(ra) >= 1, "the 429 has Retry-After in whole seconds", repr(ra))
        res.check(limited.error and limited.error.get("code") == "rate_limited"
                  and "token-rate" in limited.message,
                  "the 429 is rate_limited naming token-rate", limited.short())
        a = c.call("GET", "/v1/me", token=v)
        res.check(a.status == 200, "another token of the same tenant is not limited", a.short())
        a = c.call("GET", "/healthz")
        res.check(a.status == 200, "/healthz is not limited", a.short())
        time.sleep(int(ra) if ra.isdigit() else 1)
        a = c.call("GET", "/v1/me", token=m)
        res.check(a.status == 200, f"after Retry-After ({ra} s) the token is served again", a.short())
    print(f"rate limit: statuses of quick requests until the first 429: {statuses}")
    s.stop(res, "escher-api --token-rate 5")
    stack.servers.remove(s)


def request_lines(server):
    n = 0
    for line in server.lines:
        if '"msg":"request"' in line and "/healthz" in line:
            n += 1
    return n


def reuseport(stack, res):
    first = stack.start(("--log-level", "debug"))
    second = stack.start(("--log-level", "debug"), port=first.port)
    res.check(second.port == first.port,
              f"a second escher-api listens on the first one's port {first.port}",
              f"it logged port {second.port}")
    c = apitest.Client(first.port, res)
    failures = 0
    for _ in range(200):
        a = c.call("GET", "/healthz")
        failures += a.status != 200
    time.sleep(0.3)  # the last log lines
    n1, n2 = request_lines(first), request_lines(second)
    print(f"SO_REUSEPORT: 200 connections to port {first.port}: first process served {n1}, "
          f"second {n2}")
    res.check(failures == 0, "every request on the shared port is served", f"{failures} failed")
    res.check(n1 > 0 and n2 > 0, "both processes serve the shared port",
              f"first {n1}, second {n2}")
    res.check(n1 + n2 == 200, "every request is logged by exactly one process", f"{n1} + {n2}")
    first.stop(res, "the first escher-api on the shared port")
    stack.servers.remove(first)
    ok = sum(c.call("GET", "/healthz").status == 200 for _ in range(20))
    res.check(ok == 20, "with the first stopped, the second serves the port alone", f"{ok}/20")
    second.stop(res, "the second escher-api on the shared port")
    stack.servers.remove(second)


def concurrency(c, t, res):
    tokens = [t.tokens[r] for r in apitest.ROLES]
    bad = []
    lock = threading.Lock()

    def worker(i):
        for j in range(40):
            a = c.call("GET", "/v1/accounts" if j % 2 else "/v1/me", token=tokens[(i + j) % 3])
            if a.status != 200:
                with lock:
                    bad.append(a.short())

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    t0 = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    dt = time.monotonic() - t0
    res.check(not bad, f"320 requests from 8 clients at once all answer 200 ({dt:.1f} s)",
              json.dumps(bad[:5]))


if __name__ == "__main__":
    apitest.main("api_acceptance_server", "srv", run)
