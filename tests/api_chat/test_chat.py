#!/usr/bin/python3
"""POST /v1/chat over HTTP against the real escher-api (tests/api/apitest.py's
Stack: a private database, tenants with a manager, an executor and a viewer).

Usage: test_chat.py ESCHER_API_BINARY

Builtin engine (no llm-url): a query, an operation with the context's
default_region, a schedule with the context's time_zone, a server question
("not offered by this server yet"), a clarify; the three roles, no token;
400s naming the field for bad bodies and contexts; nothing audited; the
route counted in /metrics.

LLM backend: a stdlib HTTP server replays the chat-completions answers in
recorded/ (written in the OpenAI format) or fails on purpose. A valid tool
call is the plan (engine "llm"); an unknown operation, a parameter out of
bounds, an operation for a question, words only, HTTP 500, an answer slower
than llm-timeout and an unreachable URL all give the builtin engine's answer
(never a mutating plan from words). The fixture checks what it received:
one tool per catalog operation (ec2_stop ...) plus query_resources, the
Authorization header, and nothing but the message and the context. With one
API loop, /healthz answers at once while a chat request waits on the slow
model (the call does not block the loop). The API's log never holds the key.
"""
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
import apitest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RECORDED = os.path.join(HERE, "recorded")
API_KEY = "sk-escher-test-" + os.urandom(12).hex()


def catalog_ops():
    """Operation names from docs/operations.md (generated from the catalog)."""
    with open(os.path.join(apitest.SOURCE, "docs", "operations.md"), encoding="utf-8") as f:
        return re.findall(r"^\| `([a-z0-9]+\.[a-z_]+)` \|", f.read(), re.M)


# ---- the LLM fixture ------------------------------------------------------------------


class Fixture:
    """An OpenAI-compatible chat-completions endpoint replaying recorded
    answers: mode is a file of recorded/ (without .json), "500" or "slow"."""

    def __init__(self):
        self.mode = "valid_tool_call"
        self.slow_s = 4.0
        self.received = []  # (headers dict, body JSON)
        fixture = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                fixture.received.append(({k.lower(): v for k, v in self.headers.items()}, body,
                                         self.path))
                mode = fixture.mode
                if mode == "slow":
                    time.sleep(fixture.slow_s)
                    mode = "valid_tool_call"
                if mode == "500":
                    out, status = b'{"error": {"message": "the model is overloaded"}}', 500
                elif mode == "huge":  # a valid answer padded past the API's 1 MiB
                    with open(os.path.join(RECORDED, "valid_tool_call.json"), "rb") as f:
                        out, status = f.read().rstrip() + b" " * (1100 * 1024) + b"\n", 200
                else:
                    with open(os.path.join(RECORDED, mode + ".json"), "rb") as f:
                        out, status = f.read(), 200
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except OSError:
                    pass  # the API gave up on a slow answer

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/v1/chat/completions"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ---- checks -------------------------------------------------------------------------------


def chat(c, token, message, context=None, timeout=30):
    body = {"message": message}
    if context is not None:
        body["context"] = context
    return c.call("POST", "/v1/chat", body, token=token, timeout=timeout)


def answer_ok(res, a, what):
    ok = (a.status == 200 and isinstance(a.json, dict) and set(a.json) == {"text", "plan", "engine"}
          and isinstance(a.json["text"], str) and a.json["text"]
          and isinstance(a.json["plan"], dict) and a.json["engine"] in ("builtin", "llm"))
    res.check(ok, f"{what}: 200 with text, plan and engine", a.short())
    return ok


def mutating(plan):
    return plan.get("kind") in ("operation", "schedule")


def builtin_checks(stack, res):
    c = stack.client
    t = stack.tenants["A"]
    ex = t.tokens["executor"]
    audit_before = stack.db.value("SELECT count(*) FROM audit_log")

    a = chat(c, ex, "which instances are running in eu-west-1?")
    if answer_ok(res, a, "builtin query"):
        p = a.json["plan"]
        res.check(a.json["engine"] == "builtin" and p["kind"] == "query"
                  and p["resource"] == "instances" and p["filters"].get("state") == "running"
                  and p["filters"].get("regions") == ["eu-west-1"],
                  "builtin query: a query plan for running instances in eu-west-1", a.short())

    a = chat(c, ex, "stop the dev instances", {"default_region": "eu-west-1"})
    if answer_ok(res, a, "builtin operation"):
        p = a.json["plan"]
        res.check(p == {"kind": "operation", "operation": "ec2.stop", "params": {},
                        "target": {"accounts": "all", "regions": ["eu-west-1"],
                                   "selector": {"tags": {"env": ["dev"]}}},
                        "risk": "medium"},
                  "builtin operation: ec2.stop, risk medium, regions from context.default_region",
                  a.short())
        res.check("ec2.stop" in a.json["text"] and "medium" in a.json["text"]
                  and "confirm" in a.json["text"], "builtin operation: the text names the "
                  "operation, its risk and the confirmation", a.json["text"])

    a = chat(c, ex, "stop the dev instances every weekday at 8pm",
             {"time_zone": "Europe/Berlin", "default_region": "eu-west-1"})
    if answer_ok(res, a, "builtin schedule"):
        p = a.json["plan"]
        res.check(p.get("kind") == "schedule" and p.get("time_zone") == "Europe/Berlin"
                  and p.get("cron") == "0 20 * * 1-5" and p.get("operation") == "ec2.stop",
                  "builtin schedule: cron 0 20 * * 1-5 in the context's Europe/Berlin", a.short())

    a = chat(c, ex, "stop them", {"default_region": "eu-west-1",
                                  "recent_resource_ids": ["i-0abc1234567890def", "vol-0123abcd"]})
    if answer_ok(res, a, "builtin operation on 'them'"):
        p = a.json["plan"]
        res.check(p.get("kind") == "operation" and p.get("operation") == "ec2.stop"
                  and p.get("target", {}).get("selector") == {"ids": ["i-0abc1234567890def"]},
                  "builtin 'stop them': the context's recent instance ids", a.short())
        res.check(p.get("target", {}).get("regions") == ["eu-west-1"],
                  "builtin 'stop them' without recent_regions: the default region", a.short())
    a = chat(c, ex, "stop them", {"default_region": "eu-west-1",
                                  "recent_resource_ids": ["i-0abc1234567890def"],
                                  "recent_regions": ["us-west-2", "ap-south-1"]})
    if answer_ok(res, a, "builtin operation on 'them' with recent_regions"):
        res.check(a.json["plan"].get("target", {}).get("regions") == ["us-west-2", "ap-south-1"],
                  "builtin 'stop them': where they were seen", a.short())

    a = chat(c, ex, "how much did we spend on EC2 last month?")
    if answer_ok(res, a, "builtin server question"):
        res.check(a.json["plan"] == {"kind": "server_question", "topic": "cost"}
                  and "not offered by this server yet" in a.json["text"],
                  "builtin server question: topic cost, text says not offered yet", a.short())

    a = chat(c, ex, "stop everything")
    if answer_ok(res, a, "builtin clarify"):
        res.check(a.json["plan"].get("kind") == "clarify" and "Missing" in a.json["text"],
                  "builtin clarify: 'stop everything' asks what is missing", a.short())

    # A question never becomes a change, whatever verbs follow.
    a = chat(c, ex, "which instances should I stop?")
    if answer_ok(res, a, "builtin question with a verb"):
        res.check(not mutating(a.json["plan"]), "'which instances should I stop?' changes nothing",
                  a.short())

    # The limits: 2000 characters are taken (beyond the engine's sentence: a clarify).
    a = chat(c, ex, "é" * 2000)
    if answer_ok(res, a, "a message of 2000 two-byte characters"):
        res.check(a.json["plan"].get("kind") == "clarify", "2000 characters: a clarify", a.short())

    # Roles.
    for role in apitest.ROLES:
        a = chat(c, t.tokens[role], "list stopped instances")
        res.check(a.status == 200, f"{role}: POST /v1/chat -> 200", a.short())
    a = chat(c, None, "list stopped instances")
    res.check(a.status == 401, "no token: POST /v1/chat -> 401", a.short())
    a = c.call("POST", "/v1/chat", {"message": "x"}, auth="Bearer esk_" + "0" * 64)
    res.check(a.status == 401, "an unknown token -> 401", a.short())

    # Bad bodies: 400 naming the field and the value.
    long_ids = ["123456789012"] * 101
    bad = [
        ({}, "message", "missing message"),
        ({"message": ""}, "message", "empty message"),
        ({"message": "a" * 2001}, "message", "2001 characters"),
        ({"message": 42}, "message", "a number"),
        ({"message": ["stop"]}, "message", "an array"),
        ({"message": "stop\ninstances"}, "message", "a control character"),
        ({"message": "hi", "mesage": "x"}, "mesage", "an unknown field"),
        ({"message": "hi", "context": "eu-west-1"}, "context", "context not an object"),
        ({"message": "hi", "context": None}, "context", "context null"),
        ({"message": "hi", "context": {"region": "eu-west-1"}}, "context.region",
         "an unknown context field"),
        ({"message": "hi", "context": {"default_region": "eu-west-99x"}}, "context.default_region",
         "a bad region"),
        ({"message": "hi", "context": {"default_region": 5}}, "context.default_region",
         "a region that is a number"),
        ({"message": "hi", "context": {"time_zone": "Mars/Base"}}, "context.time_zone",
         "an unknown zone"),
        ({"message": "hi", "context": {"time_zone": "../etc/passwd"}}, "context.time_zone",
         "a zone path"),
        ({"message": "hi", "context": {"account_ids": ["12345678901"]}}, "context.account_ids[0]",
         "an 11-digit account"),
        ({"message": "hi", "context": {"account_ids": long_ids}}, "context.account_ids",
         "101 accounts"),
        ({"message": "hi", "context": {"account_ids": "123456789012"}}, "context.account_ids",
         "accounts not an array"),
        ({"message": "hi", "context": {"recent_resource_ids": ["i-0abc", "vol 1"]}},
         "context.recent_resource_ids[1]", "a resource id with a space"),
        ({"message": "hi", "context": {"recent_resource_ids": ["x" * 129]}},
         "context.recent_resource_ids[0]", "a resource id of 129 characters"),
        ({"message": "hi", "context": {"recent_resource_ids": ["i-1"] * 201}},
         "context.recent_resource_ids", "201 resource ids"),
        ({"message": "hi", "context": {"recent_regions": ["eu-west-1", "Frankfurt"]}},
         "context.recent_regions[1]", "a region that is no code"),
        ({"message": "hi", "context": {"recent_regions": ["eu-west-1"] * 51}},
         "context.recent_regions", "51 regions"),
    ]
    for body, field, what in bad:
        a = c.call("POST", "/v1/chat", body, token=ex)
        res.check(a.status == 400 and a.error and field in a.message,
                  f"bad body ({what}) -> 400 naming '{field}'", a.short())
    a = c.call("POST", "/v1/chat", b"{", token=ex)
    res.check(a.status == 400 and "JSON" in a.message, "malformed JSON -> 400", a.short())
    a = c.call("POST", "/v1/chat?x=1", {"message": "hi"}, token=ex)
    res.check(a.status == 400 and "'x'" in a.message, "a query parameter -> 400 naming it",
              a.short())
    a = chat(c, ex, "list instances", {"default_region": "eu-west-1", "time_zone": "UTC",
                                       "account_ids": ["123456789012"],
                                       "recent_resource_ids": ["i-0abc123", "vol-1/x:y.z"]})
    res.check(a.status == 200, "a full valid context -> 200", a.short())

    # Changes nothing: no audit row; counted in /metrics.
    res.check(stack.db.value("SELECT count(*) FROM audit_log") == audit_before,
              "chat requests write no audit row", f"before {audit_before}")
    m = c.call("GET", "/metrics")
    res.check(re.search(r'escher_api_requests_total\{method="POST",route="/v1/chat",status="200"\} [1-9]',
                        m.body.decode()) is not None, "/metrics counts POST /v1/chat", "")


def llm_checks(stack, res, fx):
    ctx = {"default_region": "eu-west-1", "time_zone": "Europe/Berlin",
           "account_ids": ["123456789012"], "recent_resource_ids": ["i-0abc123"]}
    srv = stack.start(("--llm-url", fx.url, "--llm-timeout", "2s", "--llm-model", "escher-test-model",
                       "--threads", "1", "--log-level", "debug"))
    c = apitest.Client(srv.port, res)
    t = stack.tenants["A"]
    ex = t.tokens["executor"]

    # A valid tool call is the plan.
    fx.mode = "valid_tool_call"
    n0 = len(fx.received)
    msg = "please stop the running dev boxes"
    a = chat(c, ex, msg, ctx)
    if answer_ok(res, a, "llm: valid tool call"):
        res.check(a.json["engine"] == "llm" and a.json["plan"] == {
            "kind": "operation", "operation": "ec2.stop", "params": {},
            "target": {"accounts": "all", "regions": ["eu-west-1"],
                       "selector": {"tags": {"env": ["dev"]}, "state": "running"}},
            "risk": "medium"}, "llm: valid ec2_stop call -> engine llm, the plan with risk "
            "and the context's region", a.short())
    if res.check(len(fx.received) == n0 + 1, "the fixture received one request"):
        headers, body, path = fx.received[-1]
        res.check(path == "/v1/chat/completions", "the request went to llm-url's path", path)
        res.check(headers.get("authorization") == "Bearer " + API_KEY,
                  "the request has Authorization: Bearer <llm-api-key>",
                  str(headers.get("authorization"))[:20])
        tools = [tl["function"]["name"] for tl in (body or {}).get("tools", [])]
        want = [o.replace(".", "_") for o in catalog_ops()] + ["query_resources"]
        res.check(sorted(tools) == sorted(want) and len(want) > 5,
                  f"the request has one tool per catalog operation ({len(want) - 1}) and "
                  "query_resources", f"got {tools}")
        stop = next((tl["function"] for tl in body["tools"] if tl["function"]["name"] == "ec2_stop"),
                    {})
        print("the ec2_stop tool as sent:", json.dumps(stop), flush=True)
        print("the system message as sent:", json.dumps(body["messages"][0]["content"]), flush=True)
        props = stop.get("parameters", {}).get("properties", {})
        res.check({"hibernate", "target", "cron", "time_zone"} <= set(props)
                  and props["hibernate"].get("type") == "boolean",
                  "ec2_stop's parameters: hibernate (boolean), target, cron, time_zone",
                  json.dumps(stop)[:400])
        asg = next((tl["function"] for tl in body["tools"]
                    if tl["function"]["name"] == "asg_set_capacity"), {})
        aprops = asg.get("parameters", {}).get("properties", {})
        res.check(aprops.get("desired", {}).get("maximum") == 10000
                  and "desired" in asg.get("parameters", {}).get("required", []),
                  "asg_set_capacity: desired is required with maximum 10000",
                  json.dumps(asg)[:400])
        res.check(body.get("model") == "escher-test-model", "the request names llm-model",
                  str(body.get("model")))
        texts = [m.get("content", "") for m in body.get("messages", [])]
        sent = json.dumps(body)
        res.check(texts and texts[-1] == msg and any("eu-west-1" in x and "i-0abc123" in x
                                                      for x in texts[:-1]),
                  "the messages carry the user's message and the context", json.dumps(texts)[:600])
        leaked = [s for s in (t.id, t.emails["executor"], t.users["executor"], ex,
                              t.tokens["manager"], API_KEY) if s in sent]
        res.check(not leaked, "the LLM gets nothing else: no tenant, user, e-mail or token",
                  str(leaked))

    # A schedule from the model takes the context's zone.
    fx.mode = "schedule_tool_call"
    a = chat(c, ex, "stop staging every weekday evening", ctx)
    if answer_ok(res, a, "llm: schedule tool call"):
        p = a.json["plan"]
        res.check(a.json["engine"] == "llm" and p.get("kind") == "schedule"
                  and p.get("time_zone") == "Europe/Berlin" and p.get("cron") == "0 20 * * 1-5"
                  and p.get("target", {}).get("regions") == ["eu-west-1", "eu-central-1"],
                  "llm: schedule plan with the context's time_zone", a.short())

    # A query from the model for a question.
    fx.mode = "query_tool_call"
    a = chat(c, ex, "how many running boxes do we have in virginia?", ctx)
    if answer_ok(res, a, "llm: query tool call"):
        p = a.json["plan"]
        res.check(a.json["engine"] == "llm" and p == {
            "kind": "query", "resource": "instances", "action": "count",
            "filters": {"state": "running", "regions": ["us-east-1"]}},
            "llm: query_resources -> a query plan", a.short())

    # Rejected answers: the builtin engine answers, with a note.
    cases = [
        ("unknown_operation", "stop the dev instances", "unknown operation 'ec2.terminate'",
         "an unknown operation"),
        ("param_out_of_bounds", "stop the dev instances", "desired", "a parameter out of bounds"),
        ("valid_tool_call", "which instances should I stop?", "question",
         "an operation for a question"),
        ("500", "stop the dev instances", "HTTP 500", "HTTP 500"),
        ("huge", "stop the dev instances", "bytes, over", "an answer over 1 MiB"),
    ]
    for mode, message, note, what in cases:
        fx.mode = mode
        a = chat(c, ex, message, ctx)
        if answer_ok(res, a, f"llm: {what}"):
            builtin = chat(stack.client, ex, message, ctx).json or {}
            res.check(a.json["engine"] == "builtin" and a.json["plan"] == builtin.get("plan")
                      and note in a.json["text"],
                      f"llm: {what} -> rejected, the builtin plan, a note naming {note!r}",
                      a.short())
    # The note never quotes the key.
    res.check(API_KEY not in json.dumps(a.json or {}), "no answer quotes the key")

    # Words only: shown as a note, never a mutating plan.
    fx.mode = "free_text"
    for message in ("stop the dev instances", "list the dev instances"):
        a = chat(c, ex, message, ctx)
        if answer_ok(res, a, f"llm: words only ({message!r})"):
            res.check(a.json["engine"] == "builtin" and not mutating(a.json["plan"])
                      and "words only" in a.json["text"],
                      f"llm: words only for {message!r} -> a non-mutating builtin plan",
                      a.short())

    # A slow model: past llm-timeout the builtin engine answers, and the
    # loop keeps serving meanwhile (this server has one loop).
    res.check(any('"loops":"1"' in line for line in srv.lines), "the LLM server runs one loop",
              "".join(srv.lines)[:400])
    fx.mode = "slow"
    box = {}

    def slow_call():
        t0 = time.monotonic()
        box["a"] = chat(c, ex, "stop the dev instances", ctx)
        box["s"] = time.monotonic() - t0

    th = threading.Thread(target=slow_call)
    th.start()
    time.sleep(0.4)
    times = []
    for _ in range(5):
        t0 = time.monotonic()
        h = c.call("GET", "/healthz")
        times.append(time.monotonic() - t0)
        res.check(h.status == 200, "/healthz during the slow LLM call -> 200", h.short())
        time.sleep(0.05)
    th.join(30)
    print(f"measured: /healthz during a slow LLM call on a one-loop server: "
          f"{', '.join(f'{x * 1000:.1f}' for x in times)} ms; the chat answer after "
          f"{box.get('s', 0):.2f} s (llm-timeout 2 s, the model takes {fx.slow_s:.0f} s)", flush=True)
    res.check(max(times) < 0.5 and "a" in box and box["s"] > 1.0,
              "while a chat request waits on the model, /healthz on the same loop answers at "
              f"once (max {max(times) * 1000:.0f} ms; chat took {box.get('s', 0):.2f} s)")
    a = box.get("a")
    if a is not None and answer_ok(res, a, "llm: slow model"):
        res.check(a.json["engine"] == "builtin" and "did not answer within" in a.json["text"]
                  and box["s"] < 3.5, f"llm: slower than llm-timeout (2 s) -> builtin after "
                  f"{box['s']:.2f} s with a note", a.short())
    fx.mode = "valid_tool_call"
    time.sleep(fx.slow_s)  # the fixture's slow answer ends before the server stops

    # A client that hangs up while its request waits on the model: the late
    # answer is dropped, the loop serves on (sanitizers watch the stop).
    fx.mode = "slow"
    raw = json.dumps({"message": "stop the dev instances", "context": ctx}).encode()
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    sock.sendall(b"POST /v1/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Authorization: Bearer " + ex.encode() + b"\r\nContent-Length: " +
                 str(len(raw)).encode() + b"\r\n\r\n" + raw)
    time.sleep(0.3)
    sock.close()
    time.sleep(2.5)  # past llm-timeout: the answer to nobody
    h = c.call("GET", "/healthz")
    res.check(h.status == 200 and srv.alive(), "after a client hung up on a waiting chat request, "
              "the server answers /healthz", h.short())
    fx.mode = "valid_tool_call"
    time.sleep(fx.slow_s - 2.5)

    # Several at once on one loop: all answered, by the model.
    out = []

    def one(i):
        out.append(chat(apitest.Client(srv.port, res), ex, "stop the dev instances", ctx))

    ths = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(30)
    res.check(len(out) == 8 and all(x.status == 200 and x.json["engine"] == "llm" for x in out),
              "8 concurrent chat requests on one loop: all answered by the model",
              " ".join(x.short()[:80] for x in out))

    # SIGTERM while a chat request waits on the model: a clean exit (0, no
    # sanitizer report: the waiting call is cancelled and freed).
    fx.mode = "slow"
    stopping = stack.start(("--llm-url", fx.url, "--llm-timeout", "10s", "--threads", "1"))
    box2 = {}

    def waiting():
        try:
            box2["a"] = chat(apitest.Client(stopping.port, res), ex, "stop the dev instances",
                             ctx)
        except OSError as e:
            box2["e"] = e

    th = threading.Thread(target=waiting)
    th.start()
    time.sleep(0.5)
    stopping.stop(res, "escher-api stopped while a chat request waits on the model")
    th.join(30)
    res.check(not th.is_alive(), "the waiting client is released when the server stops",
              str(box2))
    fx.mode = "valid_tool_call"

    # An unreachable model.
    dead = stack.start(("--llm-url", "http://127.0.0.1:9/v1/chat/completions", "--threads", "1"))
    a = chat(apitest.Client(dead.port, res), ex, "stop the dev instances", ctx)
    if answer_ok(res, a, "llm: unreachable"):
        res.check(a.json["engine"] == "builtin" and mutating(a.json["plan"])
                  and "could not be reached" in a.json["text"],
                  "llm: an unreachable URL -> the builtin plan with a note", a.short())
    return srv


def option_checks(stack, res):
    """Bad LLM options stop the server before it serves, naming the option."""
    for args, words in [(("--llm-url", "ftp://127.0.0.1/x"), "llm-url"),
                        (("--llm-url", "http://127.0.0.1:9/x", "--llm-timeout", "30s",
                          "--request-timeout", "10s"), "llm-timeout"),
                        (("--llm-timeout", "5"), "llm-timeout")]:
        p = subprocess.run([stack.binary, "--database-url", stack.db.url, "--port", "0", *args],
                           capture_output=True, text=True, timeout=30)
        res.check(p.returncode != 0 and words in p.stderr,
                  f"escher-api {' '.join(args)}: refused naming {words}",
                  f"exit {p.returncode}: {p.stderr[-300:]}")


def run(stack, routes, res):
    res.check(any(r.method == "POST" and r.pattern == "/v1/chat" and
                  r.roles == frozenset(apitest.ROLES) for r in routes),
              "escher-api routes lists POST /v1/chat for manager, executor and viewer")
    builtin_checks(stack, res)
    option_checks(stack, res)
    fx = Fixture()
    try:
        llm_checks(stack, res, fx)
    finally:
        fx.close()
    for s in stack.servers:
        res.check(API_KEY not in s.stderr(), f"the log of escher-api (port {s.port}) never holds "
                  "the LLM key")


if __name__ == "__main__":
    # The key comes from the environment, as the docs say to pass it.
    os.environ["ESCHER_LLM_API_KEY"] = API_KEY
    apitest.main("api_chat", "chat", run)
