#!/usr/bin/python3
"""escher-api's /healthz, /readyz and /metrics.

Usage: test_health.py ESCHER_API_BINARY

- /healthz answers 200 {"status": "ok"} without a token.
- /readyz: "ready" with the database and the test Redis up; "degraded"
  (still 200: the API serves without Redis) when --redis-url points at a
  port nothing listens on, saying why, with the change logged once; 503
  "unavailable" while the database refuses the API's login (its role made
  NOLOGIN and its sessions terminated), and "ready" again once it may log in,
  with the reconnect counted in /metrics.
- /metrics is Prometheus text format 0.0.4: request counters by route and
  status that count exactly the requests made, cumulative histogram buckets
  ending in +Inf equal to _count, and escher_api_redis_up 1 or 0.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
import apitest  # noqa: E402


def metrics(c):
    a = c.call("GET", "/metrics")
    return a, a.body.decode()


def sample(text, name, **labels):
    """The value of one sample, or None."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    m = re.search(r"^" + re.escape(name) + (r"\{" + re.escape(want) + r"\}" if labels else "")
                  + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def wait_for(pred, seconds=10):
    end = time.time() + seconds
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    return pred()


def run(stack, routes, res):
    del routes
    c = stack.client
    a = c.call("GET", "/healthz")
    res.check(a.status == 200 and a.json == {"status": "ok"}, "/healthz -> 200 ok", a.short())

    a = wait_for(lambda: (lambda x: x if x.json.get("status") == "ready" else None)(
        c.call("GET", "/readyz")))
    res.check(a is not None and a.status == 200, "/readyz -> 200 ready with database and Redis",
              a.short() if a else "never ready")
    if a is not None:
        res.check(a.json["database"]["ok"] and a.json["redis"]["ok"],
                  "/readyz: database ok, redis ok", a.short())

    # Counters count exactly what was asked.
    token = stack.tenants["A"].tokens["viewer"]
    _, before = metrics(c)
    base = sample(before, "escher_api_requests_total", method="GET", route="/v1/me",
                  status="200") or 0
    for _ in range(7):
        c.call("GET", "/v1/me", token=token)
    c.call("GET", "/v1/me")  # 401
    a, text = metrics(c)
    res.check(a.status == 200, "/metrics -> 200", a.short())
    res.check(a.headers.get("content-type", "").startswith("text/plain; version=0.0.4"),
              "/metrics has the exposition format's content type", str(a.headers))
    got = sample(text, "escher_api_requests_total", method="GET", route="/v1/me", status="200")
    res.check(got == base + 7, "/metrics counts the 7 GET /v1/me 200s", f"{base} -> {got}")
    res.check((sample(text, "escher_api_requests_total", method="GET", route="/v1/me",
                      status="401") or 0) >= 1, "/metrics counts the 401")
    buckets = [float(v) for v in re.findall(
        r'^escher_api_request_duration_seconds_bucket\{method="GET",route="/v1/me",le="[^"]+"\} (\S+)$',
        text, re.M)]
    count = sample(text, "escher_api_request_duration_seconds_count", method="GET", route="/v1/me")
    res.check(len(buckets) >= 2 and buckets == sorted(buckets) and buckets[-1] == count,
              "histogram buckets are cumulative and +Inf equals _count", f"{buckets} {count}")
    res.check(re.search(r'le="\+Inf"', text) is not None, "histogram has +Inf")
    res.check(sample(text, "escher_api_redis_up") == 1, "escher_api_redis_up 1")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            res.check(re.match(r'^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$',
                               line) is not None, "metric line is well formed", line)

    degraded(stack, res)
    database_down(stack, res)


def degraded(stack, res):
    # Nothing listens on the port of a socket we bound and closed.
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    srv = stack.start(["--redis-url", f"redis://127.0.0.1:{port}/0"])
    c = apitest.Client(srv.port, res)
    a = wait_for(lambda: (lambda x: x if x.json.get("status") == "degraded" else None)(
        c.call("GET", "/readyz")))
    res.check(a is not None and a.status == 200, "/readyz -> 200 degraded without Redis",
              a.short() if a else "never degraded")
    if a is not None:
        res.check(not a.json["redis"]["ok"] and str(a.json["redis"]["error"]),
                  "/readyz says why Redis is not ok", a.short())
        res.check(a.json["database"]["ok"], "/readyz: the database is still ok", a.short())
    _, text = metrics(c)
    res.check(sample(text, "escher_api_redis_up") == 0, "escher_api_redis_up 0 without Redis")
    me = c.call("GET", "/v1/me", token=stack.tenants["A"].tokens["manager"])
    res.check(me.status == 200, "the API still serves without Redis", me.short())
    time.sleep(4.5)  # two more probes
    n = len([ln for ln in srv.lines if "Redis unavailable" in ln])
    res.check(n == 1, "the loss of Redis is logged once", f"{n} lines:\n" + srv.stderr()[-3000:])
    srv.stop(res, "escher-api without Redis")


def database_down(stack, res):
    url = stack.db.login_role("escher_api")
    role = url.split("//", 1)[1].split("@", 1)[0]
    srv = stack.start_url(url) if hasattr(stack, "start_url") else None
    if srv is None:
        srv = apitest.Server(stack.binary, url)
        stack.servers.append(srv)
    c = apitest.Client(srv.port, res)
    res.check(c.call("GET", "/readyz").status == 200, "/readyz 200 as a plain escher_api login")
    apitest.psql(stack.db.server, f"ALTER ROLE {role} NOLOGIN")
    apitest.psql(stack.db.server,
                 f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'")
    a = wait_for(lambda: (lambda x: x if x.status == 503 else None)(c.call("GET", "/readyz")))
    res.check(a is not None and a.json.get("status") == "unavailable"
              and not a.json["database"]["ok"],
              "/readyz -> 503 unavailable while the database refuses the login",
              a.short() if a else "never 503")
    me = c.call("GET", "/v1/me", token=stack.tenants["A"].tokens["manager"])
    res.check(me.status == 503, "an authenticated route answers 503 without the database",
              me.short())
    apitest.psql(stack.db.server, f"ALTER ROLE {role} LOGIN")
    a = wait_for(lambda: (lambda x: x if x.status == 200 else None)(c.call("GET", "/readyz")))
    res.check(a is not None, "/readyz -> 200 again once the database lets the API in")
    me = c.call("GET", "/v1/me", token=stack.tenants["A"].tokens["manager"])
    res.check(me.status == 200, "requests succeed again after the reconnect", me.short())
    _, text = metrics(c)
    res.check((sample(text, "escher_api_db_reconnects_total") or 0) >= 1,
              "the reconnect is counted in /metrics")
    srv.stop(res, "escher-api through the database outage")


if __name__ == "__main__":
    apitest.main("api_health", "health", run)
