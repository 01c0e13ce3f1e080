#!/usr/bin/python3
"""The bad-input corpus: every route with a body, every query parameter,
every path parameter, and an oversize body on every route.

Usage: test_bad_input.py ESCHER_API_BINARY

The server runs with --max-body-bytes 4096. Each case must get a 4xx whose
error message names the problem (the field, parameter or what is wrong with
the body) and never a 5xx; afterwards /healthz answers, the process is alive,
and its stderr has no sanitizer report. Bodies: malformed JSON, empty,
arrays and scalars instead of objects, duplicate keys, deep nesting, invalid
UTF-8, escaped NUL, wrong types, missing required and unknown fields, long
strings (limits counted in characters), control characters, invalid ARNs,
account ids, regions, emails and enums, and SQL/JSON/shell/format-string
injection strings (a free-text field may accept those, and must then give
them back byte for byte; POST /v1/chat's message is answered with a plan
that changes nothing instead). Queries: unknown parameters, bad limits and
cursors, bad filter values. Paths: malformed ids.

What each body route takes is written down here (the suite uses the
standard library only, so it does not read the YAML spec); a body route of
`escher-api routes` without an entry fails the test until one is added.
"""
import base64
import json
import secrets
import urllib.parse

import apitest

MAX_BODY = 4096

INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE users; --",
    "\"; DROP TABLE aws_accounts; --",
    "1; SELECT pg_sleep(10)",
    "$(touch /tmp/escher-pwned)",
    "`id`",
    "; rm -rf / #",
    "| cat /etc/passwd",
    "../../../../etc/passwd",
    "%s%s%s%s%n%x",
    "\",\"role\":\"manager",
    "{\"$ne\": null}",
    "<script>alert(1)</script>",
    "\\u0000",
]

INVALID_ARNS = [
    "arn:aws:iam::12345678901:role/X",           # 11 digits
    "arn:aws:iam::1234567890123:role/X",         # 13 digits
    "arn:aws:iam::abcdefghijkl:role/X",
    "arn:aws:iam::123456789012:user/X",
    "arn:aws:iam::123456789012:role/",
    "arn:aws:iam::123456789012:role/" + "a" * 65,
    "arn:aws:iam::123456789012:role//X",
    "arn:aws:iam::123456789012:role/a b",
    "arn:aws:iam::123456789012:role/X;rm -rf /",
    "arn:aws:iam::123456789012:role/X' OR '1'='1",
    "arn:aws-fake:iam::123456789012:role/X",
    "arn:aws:iam:us-east-1:123456789012:role/X",
    "arn:aws:s3:::my-bucket",
    "ARN:AWS:IAM::123456789012:ROLE/X",
    " arn:aws:iam::123456789012:role/X",
    "arn:aws:iam::123456789012:role/X ",
    "arn:aws:iam::１２３４５６７８９０１２:role/X",
    "arn",
]
INVALID_ACCOUNT_IDS = ["12345678901", "1234567890123", "abcdefghijkl", "12345678901a",
                       "-12345678901", " 123456789012", "123456789012 ", "１２３４５６７８９０１２",
                       "0x123456789a", "1e11"]
INVALID_REGIONS = [["us-east-1x"], ["US-EAST-1"], ["us_east_1"], ["us-east-"], ["us-east-123"],
                   ["us-east-1; rm -rf /"], ["us-east-1", "x"], ["a" * 40],
                   [f"us-east-{i % 10}" if i < 10 else f"eu-west-{i % 10}" if i < 20 else
                    f"ap-south-{i % 10}" if i < 30 else f"ca-central-{i % 10}" for i in range(40)]]
INVALID_EMAILS = ["no-at-sign", "a@b", "@b.example", "a@@b.example", "a b@c.example",
                  "a@b..example", "a@.example", "a@example.", "x" * 330 + "@a.example",
                  "a<b>@c.example", "a@b.example\n"]
INVALID_UUIDS = ["not-a-uuid", "123", "00000000-0000-0000-0000-00000000000", "g" * 36,
                 "00000000-0000-0000-0000-0000000000000", "{00000000-0000-0000-0000-000000000000}"]
INVALID_TEMPLATES = ["bad name!", "{account_id", "a" * 65, "{account_id}" * 6 + "x",
                     "role/../x y", "{other}"]

INVALID_CRONS = ["0 20 32 * *", "61 * * * *", "* * * *", "* * * * * *", "@reboot", "@often",
                 "0 20 * * mon-frx", "*/0 * * * *", "5-1 * * * *", "0 0 30 2 *", "0 24 * * *",
                 "0 0 0 * *", "0 0 * 13 *", "0 0 * * 8", "1,,2 * * * *"]
INVALID_ZONES = ["Mars/Base", "../etc/passwd", "/etc/localtime", "Europe/../../etc/passwd",
                 "Europe//Berlin", "europe/berlin ", "Europe/Berlin\\x", "posixrules/x", "."]
INVALID_TIMES = ["tomorrow", "2026-13-01T00:00:00Z", "2026-11-24", "2026-11-24T25:00:00Z",
                 "2000-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "24/11/2026 20:00"]

FIELD_CASES = {
    # kind: (values that must be refused, naming the field)
    "arn": INVALID_ARNS,
    "account_id": INVALID_ACCOUNT_IDS,
    "email": INVALID_EMAILS,
    "uuid": INVALID_UUIDS,
    "template": INVALID_TEMPLATES,
    "cron": INVALID_CRONS,
    "zone": INVALID_ZONES,
    "time": INVALID_TIMES,
}


class Field:
    def __init__(self, kind, max_len=None, nullable=False, required=False, values=None,
                 free_text=False, accepted=None):
        self.kind = kind          # string arn account_id email enum uuid bool regions template
        #                           cron zone time operation object int
        self.max_len = max_len
        self.nullable = nullable
        self.required = required
        self.values = values      # enum values; int: (min, max)
        self.free_text = free_text  # any text of the right length is valid (names)
        # accepted(answer, value): a free-text value was taken as it should be;
        # None: the answer gives the field back byte for byte.
        self.accepted = accepted


def SCHEDULE_FIELDS(required):
    """The fields of POST /v1/schedules (required) and PATCH (none required).
    run_at is checked with cron in the base body: its own check comes first."""
    return {"name": Field("string", 200, required=required, free_text=True),
            "cron": Field("cron", 200),
            "run_at": Field("time", 64),
            "time_zone": Field("zone", 64),
            "operation": Field("operation", 64, required=required),
            "params": Field("object"),
            "target": Field("object", required=required),
            "dry_run": Field("bool"),
            "enabled": Field("bool"),
            "missed_fire_policy": Field("enum", values=["skip", "run_once", "run_each"]),
            "missed_fire_window_seconds": Field("int", values=(0, 604800))}


def chat_answered(a, value):
    """POST /v1/chat takes any sentence and answers a plan that changes
    nothing for these strings (it gives no field back)."""
    j = a.json if isinstance(a.json, dict) else {}
    plan = j.get("plan") if isinstance(j.get("plan"), dict) else {}
    return isinstance(j.get("text"), str) and plan.get("kind") not in (None, "operation", "schedule")


def arn_in(account, name="Other"):
    return apitest.role_arn(account, name)


def body_routes(stack, fx, t):
    """{(METHOD, pattern): (base(), {field: Field}, path)}: base() makes a
    valid body (a fresh one each call, so a case that slips through still
    succeeds on its own), path is the path to call."""
    acct = fx.shared_account(t)
    return {
        ("POST", "/v1/users"): (
            lambda: {"email": f"u{secrets.token_hex(6)}@{t.name.lower()}.example", "role": "viewer"},
            {"email": Field("email", 320, required=True),
             "role": Field("enum", values=["manager", "executor", "viewer"], required=True)},
            "/v1/users"),
        ("POST", "/v1/tokens"): (
            lambda: {"name": "t"},
            {"name": Field("string", 200, free_text=True), "user_id": Field("uuid")},
            "/v1/tokens"),
        ("POST", "/v1/accounts"): (
            lambda: {"role_arn": apitest.role_arn(apitest.fresh_account_id()), "verify": False},
            {"role_arn": Field("arn", 2048, required=True),
             "readonly_role_arn": Field("arn", 2048, nullable=True),
             "name": Field("string", 256, nullable=True, free_text=True),
             "regions": Field("regions"),
             "account_id": Field("account_id"),
             "verify": Field("bool")},
            "/v1/accounts"),
        ("PATCH", "/v1/accounts/{id}"): (
            lambda: {"name": "patched"},
            {"name": Field("string", 256, nullable=True, free_text=True),
             "role_arn": Field("arn", 2048),
             "readonly_role_arn": Field("arn", 2048, nullable=True),
             "regions": Field("regions"),
             "status": Field("enum", values=["disabled", "pending"])},
            f"/v1/accounts/{acct['id']}"),
        ("POST", "/v1/schedules"): (
            lambda: {"name": f"corpus {secrets.token_hex(6)}", "cron": "0 20 * * 1-5",
                     "operation": "ec2.stop",
                     "target": {"accounts": "all", "regions": "all",
                                "selector": {"tags": {"env": ["dev"]}}}},
            SCHEDULE_FIELDS(required=True),
            "/v1/schedules"),
        ("PATCH", "/v1/schedules/{id}"): (
            lambda: {"dry_run": True},
            SCHEDULE_FIELDS(required=False),
            f"/v1/schedules/{fx.shared_schedule(t)['id']}"),
        ("POST", "/v1/schedules/preview"): (
            lambda: {"cron": "0 20 * * 1-5"},
            {"cron": Field("cron", 200, required=True),
             "time_zone": Field("zone", 64),
             "count": Field("int", values=(1, 100))},
            "/v1/schedules/preview"),
        ("POST", "/v1/channels"): (
            lambda: {"name": f"corpus {secrets.token_hex(6)}", "kind": "slack",
                     "url": "https://hooks.slack.com/services/T0/B0/x"},
            {"name": Field("string", 256, required=True, free_text=True),
             "kind": Field("enum", values=["slack", "webhook", "email"], required=True),
             "url": Field("string", 2048, required=True),
             "enabled": Field("bool")},
            "/v1/channels"),
        ("PATCH", "/v1/channels/{id}"): (
            lambda: {"enabled": True},
            {"name": Field("string", 256, free_text=True),
             "url": Field("string", 2048),
             "enabled": Field("bool")},
            f"/v1/channels/{fx.shared_channel(t)['id']}"),
        ("POST", "/v1/runs"): (
            lambda: {"operation": "ec2.stop", "dry_run": True,
                     "target": {"accounts": "all", "regions": "all",
                                "selector": {"tags": {"env": ["dev"]}}}},
            {"operation": Field("operation", 64, required=True),
             "params": Field("object"),
             "target": Field("object", required=True),
             "dry_run": Field("bool")},
            "/v1/runs"),
        ("POST", "/v1/schedules/{id}/run"): (
            lambda: {"dry_run": True},
            {"dry_run": Field("bool")},
            f"/v1/schedules/{fx.shared_schedule(t)['id']}/run"),
        ("POST", "/v1/chat"): (
            lambda: {"message": "list the running dev instances"},
            {"message": Field("string", 2000, required=True, free_text=True,
                              accepted=chat_answered),
             "context": Field("object")},
            "/v1/chat"),
        ("POST", "/v1/discovery"): (
            lambda: {"management_role_arn": "arn:aws:iam::111122223333:role/OrgReader"},
            {"management_role_arn": Field("arn", 2048, required=True),
             "role_name": Field("template", 600),
             "readonly_role_name": Field("template", 600, nullable=True),
             "regions": Field("regions")},
            "/v1/discovery"),
    }


# Routes that take no body (their handlers never read one).
NO_BODY = {("POST", "/v1/accounts/{id}/verify"), ("POST", "/v1/jobs/{id}/cancel"),
           ("POST", "/v1/channels/{id}/test")}

# Routes whose body is optional: no body at all is the route's defaults.
OPTIONAL_BODY = {("POST", "/v1/schedules/{id}/run")}

# Query parameters of each GET route; lists also take limit and cursor.
LISTS = {
    "/v1/users": {},
    "/v1/tokens": {"user": "uuid"},
    "/v1/accounts": {"status": "enum"},
    "/v1/jobs": {"kind": "dotted", "state": "enum", "account": "uuid"},
    "/v1/audit": {"action": "dotted"},
    "/v1/schedules": {"enabled": "enum", "operation": "dotted"},
}


def wrong_types(field):
    """JSON values of the wrong type for field."""
    if field.kind == "bool":
        vals = ["true", 1, 0, [], {}]
    elif field.kind == "object":
        vals = [42, 4.2, True, "x", [], ["x"]]
    elif field.kind == "int":
        lo, hi = field.values
        vals = ["42", 4.2, True, [], {}, lo - 1, hi + 1]
    elif field.kind == "regions":
        vals = ["us-east-1", {}, 1, True, [1], [None], [["us-east-1"]], [{}]]
    else:
        vals = [42, 4.2, True, [], ["x"], {}, {"a": "b"}]
    if not field.nullable:
        vals.append(None)
    return vals


def names(a, *words):
    m = a.message.lower()
    return any(w.lower() in m for w in words)


class Corpus:
    def __init__(self, stack, res):
        self.stack = stack
        self.res = res
        self.c = stack.client
        self.count = 0
        self.by_route = {}
        self.five = []

    def send(self, route_name, method, path, body, token, want_words, what, allow_ok=False,
             ok_check=None, headers=None):
        """One case: a 4xx naming one of want_words (or, with allow_ok, a 2xx
        that ok_check accepts); never a 5xx."""
        a = self.c.call(method, path, body, token=token, headers=headers)
        self.count += 1
        self.by_route[route_name] = self.by_route.get(route_name, 0) + 1
        label = f"{route_name}: {what}"
        if a.status >= 500:
            self.five.append(f"{label} -> {a.short()}")
        if allow_ok and 200 <= a.status < 300:
            if ok_check:
                self.res.check(ok_check(a), f"{label}: accepted and given back unchanged", a.short())
            return a
        good = 400 <= a.status < 500 and a.status not in (401, 403) and names(a, *want_words)
        self.res.check(good, f"{label} -> 4xx naming {' or '.join(repr(w) for w in want_words)}",
                       f"sent {body_text(body)} -> {a.short()}")
        return a

    # ---- bodies -------------------------------------------------------------------

    def bodies(self, key, base, fields, path, token):
        method, pattern = key
        name = f"{method} {pattern}"
        send = lambda body, words, what, **kw: self.send(name, method, path, body, token, words, what, **kw)
        json_words = ("json", "body")
        # The body as a whole.
        for raw, what in [(b'{"a": ', "truncated JSON"), (b"{", "a lone brace"),
                          (b"not json", "plain text"), (b"{} trailing", "trailing garbage"),
                          (b"{'a': 1}", "single quotes"), (b'{"a": 1,}', "a trailing comma"),
                          (b"\xff\xfe{}", "a byte-order mark and junk"),
                          (b'{"name": "\xc3\x28"}', "invalid UTF-8 in a string"),
                          (b'{"name": "\\ud800"}', "a lone surrogate escape"),
                          (b'{"name": "a\\u0000b"}', "an escaped NUL in a string"),
                          (b'{"x": 1e999}', "a number out of range"),
                          (b'{"x": 123456789012345678901234567890}', "an integer out of range"),
                          (b"[" * 2100 + b"]" * 1900, "nesting deeper than the parser allows"),
                          (b"\x00", "a NUL byte")]:
            send(raw, json_words, what)
        if key in OPTIONAL_BODY:
            a = self.c.call(method, path, b"", token=token)
            self.count += 1
            self.by_route[name] = self.by_route.get(name, 0) + 1
            if a.status >= 500:
                self.five.append(f"{name}: an empty body -> {a.short()}")
            self.res.check(200 <= a.status < 300,
                           f"{name}: an empty body (the body is optional) -> 2xx", a.short())
        else:
            send(b"", ("empty",), "an empty body")
        send(b"   \n", ("json", "empty"), "whitespace only")
        for raw, what in [(b"[]", "an empty array"), (json.dumps([base()]).encode(), "the body in an array"),
                          (b'"text"', "a string"), (b"42", "a number"), (b"null", "null"),
                          (b"true", "true")]:
            send(raw, ("object", "'[' or '{' expected"), what)
        b = json.dumps(base())[:-1] + ', "role": "viewer", "role": "manager"}'
        send(b.encode(), json_words + ("role",), "a duplicate key")
        # Unknown and missing fields.
        for unknown in ("bogus_field", "Role_Arn", "'; DROP TABLE users; --", "__proto__", "id", "tenant_id"):
            if unknown in fields:
                continue
            body = dict(base(), **{unknown: "x"})
            send(body, (unknown[:60],), f"unknown field {unknown!r}")
        for f, spec in fields.items():
            if spec.required:
                body = base()
                body.pop(f, None)
                if not body:
                    body = {}
                send(body, (f,), f"missing required field '{f}'")
        if not any(s.required for s in fields.values()):
            # Nothing required: {} may be fine (POST /v1/tokens) or say what is missing (PATCH).
            self.send(name, method, path, {}, token, tuple(fields), "an empty object", allow_ok=True)
        # Each field.
        for f, spec in fields.items():
            for v in wrong_types(spec):
                send(dict(base(), **{f: v}), (f,), f"'{f}' = {json.dumps(v)} (wrong type)")
            if spec.kind in ("regions", "bool"):
                if spec.kind == "regions":
                    for v in INVALID_REGIONS:
                        send(dict(base(), **{f: v}), (f,), f"'{f}' = {json.dumps(v)[:60]}")
                    send(dict(base(), **{f: ["us-east-1\n"]}), (f,), f"'{f}' with a control character")
                continue
            send(dict(base(), **{f: ""}), (f,), f"'{f}' empty")
            for ctl in ("a\nb", "a\tb", "a\rb", "a\x01b", "a\x1bb", "a\x7fb"):
                send(dict(base(), **{f: ctl}), (f,), f"'{f}' with control character {ctl[1]!r}")
            limit = spec.max_len or 600
            send(dict(base(), **{f: "a" * (limit + 1)}), (f,), f"'{f}' of {limit + 1} characters")
            if spec.max_len and spec.max_len < 1000:
                send(dict(base(), **{f: "é" * (spec.max_len + 1)}), (f,),
                     f"'{f}' of {spec.max_len + 1} two-byte characters")
                if spec.free_text:
                    v = "é" * spec.max_len
                    self.send(name, method, path, dict(base(), **{f: v}), token, (f,),
                              f"'{f}' of {spec.max_len} two-byte characters (at the limit)",
                              allow_ok=True, ok_check=lambda a, f=f, v=v: a.json.get(f) == v)
            send(dict(base(), **{f: "a" * 3000}), (f,), f"'{f}' of 3000 characters")
            for v in FIELD_CASES.get(spec.kind, []):
                send(dict(base(), **{f: v}), (f,), f"'{f}' = {v[:70]!r}")
            if spec.kind == "enum":
                for v in [x.upper() for x in spec.values] + ["admin", spec.values[0] + " ", "*"]:
                    send(dict(base(), **{f: v}), (f,), f"'{f}' = {v!r}")
            if spec.kind == "uuid":
                self.send(name, method, path, dict(base(), **{f: "00000000-0000-4000-8000-000000000000"}),
                          token, ("user", f), f"'{f}' a well-formed uuid of nobody")
            for v in INJECTIONS:
                body = dict(base(), **{f: v})
                if spec.kind == "template":
                    self.send(name, method, path, body, token, (f,), f"'{f}' = {v!r}", allow_ok=True,
                              ok_check=lambda a, f=f, v=v: self.job_payload(a, token).get(f) == v)
                elif spec.free_text:
                    self.send(name, method, path, body, token, (f,), f"'{f}' = {v!r}", allow_ok=True,
                              ok_check=lambda a, f=f, v=v, spec=spec:
                              spec.accepted(a, v) if spec.accepted else a.json.get(f) == v)
                else:
                    send(body, (f,), f"'{f}' = {v!r}")
        # Fields that must agree with each other.
        if key == ("POST", "/v1/accounts"):
            acct = apitest.fresh_account_id()
            send({"role_arn": apitest.role_arn(acct), "account_id": "000000000001", "verify": False},
                 ("account_id",), "account_id other than the role ARN's account")
            send({"role_arn": apitest.role_arn(acct), "readonly_role_arn": arn_in("000000000001"),
                  "verify": False}, ("readonly_role_arn",), "readonly_role_arn in another account")
            send({"role_arn": "arn:aws-cn:iam::" + acct + ":role/X",
                  "readonly_role_arn": apitest.role_arn(acct), "verify": False},
                 ("readonly_role_arn",), "readonly_role_arn in another partition")
        if key == ("PATCH", "/v1/accounts/{id}"):
            send({"role_arn": arn_in("000000000001")}, ("role_arn",), "role_arn in another account")
            send({"readonly_role_arn": arn_in("000000000001")}, ("readonly_role_arn",),
                 "readonly_role_arn in another account")

    def job_payload(self, a, token):
        """The payload of the job an answer names."""
        j = self.c.call("GET", f"/v1/jobs/{a.json.get('job')}", token=token)
        return (j.json or {}).get("payload") or {}

    # ---- queries ----------------------------------------------------------------------

    def queries(self, routes, token_of):
        for route in routes:
            if route.public:
                continue
            token = token_of(route)
            name = str(route)
            path = self.path_of(route)
            if route.method != "GET" and (route.method, route.pattern) not in NO_BODY:
                continue  # body routes: their query corpus would only repeat the GET ones
            sep = "&" if "?" in path else "?"
            self.send(name, route.method, path + sep + "bogus=1", None, token, ("bogus",),
                      "unknown query parameter 'bogus'")
            self.send(name, route.method, path + sep + "Limit=5", None, token,
                      ("limit",) if route.pattern in LISTS else ("Limit",),
                      "query parameter 'Limit' (case differs)")
            if route.pattern not in LISTS:
                continue
            for v in ["0", "-1", "501", "abc", "", "1.5", "99999999999999999999", " 5", "5 ",
                      "0x10", "%00", "1e2", "%27%20OR%201%3D1"]:
                self.send(name, "GET", f"{path}?limit={qv(v)}", None, token, ("limit",), f"limit={v!r}")
            for v in ["!!!", "", "a", "====", "%00", "a" * 2000,
                      b64(b"x\x00y"), b64(b"z" * 300), b64(b"' OR 1=1 --"),
                      b64(b"2026-11-24T04:54:55.123456Z|not-a-uuid"), b64(b"99999999999999999999999")]:
                self.send(name, "GET", f"{path}?cursor={qv(v)}", None, token, ("cursor",),
                          f"cursor={v[:40]!r}", allow_ok=True,
                          ok_check=lambda a: isinstance(a.json, dict) and "items" in a.json)
            for p, kind in LISTS[route.pattern].items():
                bad = ["%00", "a" * 1000, "%0a", urllib.parse.quote("' OR '1'='1"),
                       urllib.parse.quote("$(id)"), "%C0%AF"]
                if kind == "uuid":
                    bad += ["not-a-uuid", "123"]
                if kind == "enum":
                    bad += ["nope", "PENDING", ""]
                if kind == "dotted":
                    bad += ["A.B", "a b", ""]
                for v in bad:
                    self.send(name, "GET", f"{path}?{p}={qv(v)}", None, token, (p,), f"{p}={v[:40]!r}",
                              allow_ok=kind == "dotted" and v == "",
                              ok_check=lambda a: isinstance(a.json, dict) and "items" in a.json)
            for q in ["limit=%zz", "%zz=1", "=1", "limit", "&&&", "limit=1&limit=abc", "limit=1;cursor=x"]:
                self.send(name, "GET", f"{path}?{q}", None, token, ("query", "limit", "parameter"),
                          f"odd query {q!r}", allow_ok=True,
                          ok_check=lambda a: isinstance(a.json, dict) and "items" in a.json)

    def path_of(self, route):
        return self.paths[str(route)]

    # ---- path parameters ---------------------------------------------------------------

    def path_params(self, routes, token_of, body_of):
        for route in routes:
            if not route.params:
                continue
            token = token_of(route)
            for v, what in [("not-a-uuid", "not a uuid"), ("' OR '1'='1", "SQL injection"),
                            ("%00", "a NUL"), ("a" * 1000, "1000 characters"),
                            ("..%2F..%2Fetc%2Fpasswd", "an encoded path"), ("12345678901", "11 digits"),
                            ("１２３４５６７８９０１２", "full-width digits"), ("%0a", "a newline"),
                            ("$(id)", "shell"), ("%s%n", "a format string")]:
                p = route.path(id=urllib.parse.quote(v, safe="%"))
                self.send(str(route), route.method, p, body_of(route), token, ("id", "route"),
                          f"path id {what}")
            for v in ("00000000-0000-4000-8000-000000000000", "ABCDEF00-0000-4000-8000-000000000000"):
                self.send(str(route), route.method, route.path(id=v), body_of(route), token,
                          ("no ",), f"path id {v} (well-formed, nobody's)")

    # ---- sizes ------------------------------------------------------------------------

    def oversize(self, routes, token_of):
        pad = {"name": "x" * (MAX_BODY + 1000)}
        for route in routes:
            path = self.path_of(route) if not route.public else route.pattern
            token = None if route.public else token_of(route)
            a = self.send(str(route), route.method, path, pad, token, ("max-body-bytes", "limit"),
                          f"a body of {len(json.dumps(pad))} bytes (limit {MAX_BODY})")
            self.res.check(a.status == 413 and a.error and a.error.get("code") == "body_too_large",
                           f"{route}: oversize body -> 413 body_too_large", a.short())
        # One byte over and exactly at the limit, on a body route.
        route_path, token = "/v1/tokens", token_of(None)
        for size, want in ((MAX_BODY + 1, 413), (MAX_BODY, None)):
            body = json.dumps({"name": "n"})
            body = (body[:-1] + " " * (size - len(body)) + "}").encode()
            a = self.c.call("POST", route_path, body, token=token)
            if want:
                self.res.check(a.status == want, f"POST /v1/tokens with {size} bytes -> 413", a.short())
            else:
                self.res.check(a.status == 201, f"POST /v1/tokens with exactly {size} bytes -> 201",
                               a.short())
        # Far beyond the limit libevent refuses before reading (its own 413 page).
        a = self.c.call("POST", route_path, b"{" + b" " * 200000 + b"}", token=token,
                        request_id_check=False)
        self.res.check(a.status == 413, "POST /v1/tokens with 200 kB -> 413", a.short())
        if "x-request-id" not in a.headers:
            self.res.note("a body over max-body-bytes + 64 KiB gets libevent's own plain 413, "
                          "without X-Request-Id or the error object (api_server.c BODY_SLACK)")


def qv(v):
    """A query value as sent: percent-escapes kept, the rest encoded."""
    return urllib.parse.quote(v, safe="%")


def b64(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def body_text(body):
    if body is None:
        return "no body"
    if isinstance(body, (bytes, bytearray)):
        s = repr(bytes(body[:120]))
    else:
        s = json.dumps(body)[:160]
    return s


def run(stack, routes, res):
    fx = apitest.Fixtures(stack)
    t = stack.tenants["A"]
    corpus = Corpus(stack, res)

    def token_of(route):
        if route is None or "manager" in route.roles:
            return t.tokens["manager"]
        return t.tokens[sorted(route.roles)[0]]

    table = body_routes(stack, fx, t)
    corpus.paths = {}
    for route in routes:
        if route.params:
            corpus.paths[str(route)] = route.path(id=fx.shared_account(t)["id"]) \
                if route.pattern.startswith("/v1/accounts/") else \
                route.path(id=fx.shared_job(t)) if route.pattern.startswith("/v1/jobs/") else \
                route.path(id=t.users["viewer"]) if route.pattern.startswith("/v1/users/") else \
                route.path(id=t.token_ids["viewer"]) if route.pattern.startswith("/v1/tokens/") else \
                route.path(id=fx.shared_schedule(t)["id"]) if route.pattern.startswith("/v1/schedules/") else \
                route.path(id=fx.shared_channel(t)["id"]) if route.pattern.startswith("/v1/channels/") else \
                route.pattern
        else:
            corpus.paths[str(route)] = route.pattern

    # Bodies.
    for route in routes:
        key = (route.method, route.pattern)
        if route.method in ("GET", "DELETE") or key in NO_BODY:
            continue
        if key not in table:
            res.check(False, f"{route} takes a body but tests/api/test_bad_input.py has no corpus entry")
            continue
        base, fields, path = table[key]
        corpus.bodies(key, base, fields, path, token_of(route))

    def body_of(route):
        key = (route.method, route.pattern)
        return table[key][0]() if key in table else None

    corpus.queries(routes, token_of)
    corpus.path_params(routes, token_of, body_of)
    corpus.oversize(routes, token_of)

    print("\nBad-input cases per route:")
    apitest.print_table(["route", "cases"], sorted([k, v] for k, v in corpus.by_route.items()))
    print()
    res.check(not corpus.five, f"no 5xx in {corpus.count} bad-input cases", "\n".join(corpus.five))
    a = stack.client.call("GET", "/healthz")
    res.check(a.status == 200 and stack.server.alive(),
              f"after {corpus.count} bad-input cases the server is up (/healthz 200)", a.short())


if __name__ == "__main__":
    apitest.main("api_acceptance_bad_input", "bad", run, ("--max-body-bytes", str(MAX_BODY)))
