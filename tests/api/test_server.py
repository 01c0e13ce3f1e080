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
    rate_limit(stack, t, res)
    reuseport(stack, res)
    concurrency(c, t, res)


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
    for _ in range(20):
        a = c.call("GET", "/v1/me", token=m)
        statuses.append(a.status)
        if a.status == 429 and limited is None:
            limited = a
    res.check(statuses[:5] == [200] * 5, "--token-burst 5: the first five requests pass",
              str(statuses))
    res.check(limited is not None, "--token-rate 5: 20 quick requests of one token meet 429",
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
    print(f"rate limit: statuses of 20 quick requests: {statuses}")
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
