"""Shared harness of the escher-api acceptance suite (tests/api/test_*.py).

Standard library only, and the real escher-api binary. A Stack makes a
private database on the test PostgreSQL ($ESCHER_TEST_PG_URL), runs
`escher-api migrate`, bootstraps tenants A and B (each a manager), starts
`escher-api --port 0` on the test Redis and, through the API, gives each
tenant an executor and a viewer with tokens, plus a revoked token. Every
HTTP answer the suite receives is checked for X-Request-Id (and, for errors,
the same request_id in the body). Servers are stopped with SIGTERM and their
stderr is searched for sanitizer reports.

The route table comes from `escher-api routes`, so the matrices grow with it;
what a route needs to succeed (ids, bodies) is in Fixtures, and a route the
fixtures do not know fails the test that needs it until one is added.
"""
import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time

ROLES = ("manager", "executor", "viewer")
SANITIZER_RE = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:")
SOURCE = os.environ.get("ESCHER_SOURCE_DIR",
                        os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
MIGRATIONS = os.path.join(SOURCE, "migrations")
PRINCIPAL = "arn:aws:iam::999988887777:role/escher-hub"


# ---- results ---------------------------------------------------------------------


class Results:
    """Counts checks; failures are printed at once and again at the end."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failures = []
        self.notes = []

    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
        else:
            self.failures.append(f"{what}{': ' + detail if detail else ''}")
            print(f"FAIL: {what}{': ' + detail if detail else ''}", flush=True)
        return cond

    def ok(self, what):
        self.passed += 1
        print("ok:", what, flush=True)

    def note(self, what):
        self.notes.append(what)
        print("note:", what, flush=True)

    def finish(self):
        print()
        for n in self.notes:
            print("note:", n)
        if self.failures:
            print(f"\n{len(self.failures)} failures in {self.name}:")
            for f in self.failures:
                print("  -", f[:2000])
        print(f"{self.passed} passed, {len(self.failures)} failed")
        sys.exit(1 if self.failures else 0)


# ---- the route table ---------------------------------------------------------------


class Route:
    def __init__(self, method, pattern, roles, summary):
        self.method = method
        self.pattern = pattern
        self.roles = roles  # frozenset of role names; empty for public routes
        self.summary = summary

    @property
    def public(self):
        return not self.roles

    @property
    def params(self):
        return re.findall(r"\{([^}]+)\}", self.pattern)

    def path(self, **values):
        return re.sub(r"\{([^}]+)\}", lambda m: values[m.group(1)], self.pattern)

    def __str__(self):
        return f"{self.method} {self.pattern}"


def routes_of(binary):
    """`escher-api routes` as Route objects, in the table's order."""
    out = subprocess.run([binary, "routes"], capture_output=True, text=True, check=True).stdout
    routes = []
    for line in out.splitlines():
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 4:
            raise SystemExit(f"escher-api routes printed an unexpected line: {line!r}")
        method, pattern, roles, summary = parts
        rs = frozenset() if roles == "none" else frozenset(roles.split(","))
        routes.append(Route(method, pattern, rs, summary))
    return routes


# ---- HTTP --------------------------------------------------------------------------


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    @property
    def error(self):
        if isinstance(self.json, dict) and isinstance(self.json.get("error"), dict):
            return self.json["error"]
        return None

    @property
    def message(self):
        return (self.error or {}).get("message", "")

    def short(self):
        text = self.body.decode("utf-8", "replace")
        return f"{self.status} {text[:300]}"


class Client:
    """HTTP to one port, one connection a request. Every answer is checked
    for its request id (results.check) unless request_id_check is False."""

    def __init__(self, port, results):
        self.port = port
        self.results = results
        self.answers = 0

    def call(self, method, path, body=None, token=None, headers=None, auth=None,
             request_id_check=True, timeout=30):
        h = dict(headers or {})
        if auth is not None:
            h["Authorization"] = auth
        elif token is not None:
            h["Authorization"] = "Bearer " + token
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
        if body is not None:
            h.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            a = Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()
        self.answers += 1
        if request_id_check:
            self.check_request_id(method, path, a)
        return a

    def check_request_id(self, method, path, a):
        rid = a.headers.get("x-request-id")
        self.results.check(bool(rid), f"{method} {path[:120]} -> {a.status} has X-Request-Id")
        if a.status >= 400 and method != "HEAD":  # HEAD answers carry no body
            err = a.error
            self.results.check(err is not None and {"code", "message", "request_id"} <= set(err),
                               f"{method} {path[:120]} -> {a.status} has the error object",
                               a.short())
            if err is not None:
                self.results.check(err.get("request_id") == rid,
                                   f"{method} {path[:120]} -> {a.status}: body request_id equals the header",
                                   f"header {rid!r}, body {err.get('request_id')!r}")


# ---- database ----------------------------------------------------------------------


def psql(url, sql, *variables, user_url=None):
    """Rows of sql (tab-separated fields) run through /usr/bin/psql; variables
    become :'v1', :'v2'... (quoted by psql)."""
    args = ["/usr/bin/psql", user_url or url, "-qAt", "-F", "\t", "-v", "ON_ERROR_STOP=1"]
    for i, v in enumerate(variables, 1):
        args += ["-v", f"v{i}={v}"]
    p = subprocess.run(args, input=sql, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"psql failed ({p.returncode}): {p.stderr.strip()}\nSQL: {sql}")
    return [line.split("\t") for line in p.stdout.splitlines() if line != ""]


def with_user(url, user):
    """url with its user part replaced."""
    return re.sub(r"^(postgres(?:ql)?://)[^@/]*@", r"\1" + user + "@", url)


class Database:
    def __init__(self, tag):
        self.server = os.environ["ESCHER_TEST_PG_URL"].split("?")[0]
        self.name = f"escher_t_api_{tag}_{os.getpid()}"
        self.url = self.server.rsplit("/", 1)[0] + "/" + self.name
        self.roles = []

    def create(self):
        psql(self.server, f"CREATE DATABASE {self.name}")

    def drop(self):
        subprocess.run(["/usr/bin/psql", self.server, "-qAt", "-c",
                        f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)"],
                       capture_output=True)
        for r in self.roles:
            subprocess.run(["/usr/bin/psql", self.server, "-qAt", "-c", f"DROP ROLE IF EXISTS {r}"],
                           capture_output=True)

    def rows(self, sql, *variables):
        return psql(self.url, sql, *variables)

    def value(self, sql, *variables):
        rows = self.rows(sql, *variables)
        return rows[0][0] if rows else None

    def login_role(self, member_of):
        """A new login role that is a member of member_of, and a URL for it."""
        name = f"escher_t_login_{os.getpid()}_{len(self.roles)}"
        psql(self.server, f"CREATE ROLE {name} LOGIN IN ROLE {member_of}")
        self.roles.append(name)
        return with_user(self.url, name)


# ---- the server --------------------------------------------------------------------


class Server:
    """One escher-api process serving HTTP; stderr is drained by a thread and
    kept for the sanitizer check at stop."""

    def __init__(self, binary, db_url, args=(), port=0):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("ESCHER_API_"):
                del env[k]
        cmd = [binary, "--database-url", db_url, "--migrations-dir", MIGRATIONS,
               "--listen", "127.0.0.1", "--port", str(port), "--threads", "2",
               "--redis-url", os.environ.get("ESCHER_TEST_REDIS_URL", "redis://127.0.0.1:1"),
               "--token-rate", "100000", "--token-burst", "100000",
               "--escher-principal-arn", PRINCIPAL, "--master-key", "5a" * 32, *args]
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, errors="replace")
        self.lines = []
        self.port = None
        self.stopped = False
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
        ready.wait(60)
        if self.port is None:
            self.proc.kill()
            raise RuntimeError(f"escher-api did not log 'listening': {' '.join(cmd)}\n" +
                               "".join(self.lines)[-4000:])

    def alive(self):
        return self.proc.poll() is None

    def stderr(self):
        return "".join(self.lines)

    def stop(self, results, what="escher-api"):
        """SIGTERM, wait, and check: exit 0, no sanitizer report."""
        if self.stopped:
            return
        self.stopped = True
        was_alive = self.alive()
        if was_alive:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.thread.join(10)
        text = self.stderr()
        bad = SANITIZER_RE.search(text)
        results.check(was_alive, f"{what} (port {self.port}) was still running at the end",
                      f"exit {rc}\n{text[-6000:]}")
        results.check(rc == 0, f"{what} (port {self.port}) exits 0 on SIGTERM", f"exit {rc}")
        results.check(bad is None, f"{what} (port {self.port}) stderr has no sanitizer report",
                      text[max(0, bad.start() - 200):bad.start() + 6000] if bad else "")


# ---- the stack ---------------------------------------------------------------------


class Tenant:
    def __init__(self, name):
        self.name = name
        self.id = None
        self.external_id = None
        self.users = {}      # role -> user id
        self.emails = {}     # role -> email
        self.tokens = {}     # role -> token text
        self.token_ids = {}  # role -> token id
        self.revoked = None  # a revoked token of this tenant


def skip_without_pg():
    if not os.environ.get("ESCHER_TEST_PG_URL"):
        print("SKIP: ESCHER_TEST_PG_URL is not set (tests/run.sh sets it when it starts PostgreSQL)")
        sys.exit(77)


class Stack:
    """Database, tenants A and B with a user and token per role, one server."""

    def __init__(self, binary, tag, results, server_args=()):
        skip_without_pg()
        self.binary = binary
        self.results = results
        self.db = Database(tag)
        self.servers = []
        self.db.create()
        try:
            out = subprocess.run([binary, "--database-url", self.db.url, "--migrations-dir",
                                  MIGRATIONS, "migrate"], capture_output=True, text=True)
            if out.returncode != 0:
                raise RuntimeError("escher-api migrate failed: " + out.stderr)
            self.tenants = {n: self.bootstrap(n) for n in ("A", "B")}
            self.server = self.start(server_args)
            self.client = Client(self.server.port, results)
            for t in self.tenants.values():
                self.populate(t)
        except BaseException:
            self.close()
            raise

    def bootstrap(self, name):
        t = Tenant(name)
        email = f"manager@{name.lower()}.example"
        out = subprocess.run([self.binary, "--database-url", self.db.url, "bootstrap", "--tenant",
                              f"tenant-{name}-{os.getpid()}", "--email", email],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"bootstrap {name} failed: {out.stderr}")
        kv = dict(line.split(": ", 1) for line in out.stdout.splitlines() if ": " in line)
        t.id = kv["tenant_id"]
        t.external_id = kv["external_id"]
        t.users["manager"] = kv["user_id"]
        t.emails["manager"] = email
        t.tokens["manager"] = kv["api_token"]
        t.token_ids["manager"] = kv["api_token_id"]
        return t

    def start(self, args=(), port=0):
        s = Server(self.binary, self.db.url, args, port)
        self.servers.append(s)
        return s

    def expect(self, a, status, what):
        if not self.results.check(a.status == status, what, f"want {status}, got {a.short()}"):
            raise RuntimeError(f"setup step failed: {what}: {a.short()}")
        return a.json

    def populate(self, t):
        """An executor and a viewer made through the API, a token each, and a
        revoked token."""
        m = t.tokens["manager"]
        for role in ("executor", "viewer"):
            email = f"{role}@{t.name.lower()}.example"
            u = self.expect(self.client.call("POST", "/v1/users", {"email": email, "role": role}, m),
                            201, f"tenant {t.name}: POST /v1/users makes the {role}")
            t.users[role] = u["id"]
            t.emails[role] = email
            tok = self.expect(self.client.call("POST", "/v1/tokens",
                                               {"user_id": u["id"], "name": f"{role} token"}, m),
                              201, f"tenant {t.name}: POST /v1/tokens with user_id for the {role}")
            t.tokens[role] = tok["token"]
            t.token_ids[role] = tok["id"]
        tok = self.expect(self.client.call("POST", "/v1/tokens",
                                           {"user_id": t.users["executor"], "name": "to revoke"}, m),
                          201, f"tenant {t.name}: a token to revoke")
        self.expect(self.client.call("DELETE", f"/v1/tokens/{tok['id']}", token=m), 204,
                    f"tenant {t.name}: DELETE /v1/tokens/{{id}} revokes it")
        t.revoked = tok["token"]
        me = self.expect(self.client.call("GET", "/v1/me", token=t.tokens["executor"]), 200,
                         f"tenant {t.name}: the executor's token works")
        self.results.check(me.get("role") == "executor" and me.get("tenant_id") == t.id,
                           f"tenant {t.name}: /v1/me of the executor's token", str(me))

    def close(self):
        for s in self.servers:
            s.stop(self.results)
        self.db.drop()


def main(name, tag, run, server_args=()):
    """A suite's main: argv[1] is the escher-api binary; run(stack, routes,
    results) does the checks on a fresh Stack, which is torn down after."""
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: {sys.argv[0]} ESCHER_API_BINARY")
    binary = sys.argv[1]
    res = Results(name)
    routes = routes_of(binary)
    stack = Stack(binary, tag, res, server_args)
    try:
        run(stack, routes, res)
    finally:
        stack.close()
    res.finish()


# ---- fixtures: what each route needs to succeed ---------------------------------------

_account_seq = [int(time.time()) % 100000 * 1000 + os.getpid() % 1000]


def fresh_account_id():
    _account_seq[0] += 1
    return f"{(_account_seq[0] * 7919) % 10**12:012d}"


def role_arn(account_id, name="EscherOperator"):
    return f"arn:aws:iam::{account_id}:role/{name}"


class Fixtures:
    """Real objects of a tenant for the routes to act on. make(route, tenant,
    role) returns (path, body) that the route should accept from an admitted
    caller: ids of that tenant, and for mutating routes fresh objects so that
    each call succeeds on its own."""

    def __init__(self, stack):
        self.stack = stack
        self.c = stack.client
        self.shared = {}

    def manager(self, t):
        return t.tokens["manager"]

    def account(self, t, verify=False):
        acct = fresh_account_id()
        a = self.c.call("POST", "/v1/accounts",
                        {"role_arn": role_arn(acct), "name": f"acct {acct}", "verify": verify},
                        self.manager(t))
        return self.stack.expect(a, 201, f"tenant {t.name}: POST /v1/accounts for a fixture")

    def job(self, t, account=None):
        """A queued job enqueued directly in the database (as the workers'
        queue would hold it)."""
        return self.stack.db.value(
            "INSERT INTO jobs (tenant_id, kind, payload, created_by, account_id)"
            " VALUES (:'v1', 'account.verify', jsonb_build_object('account', :'v2'::text),"
            " 'fixture', NULLIF(:'v2', '')::uuid) RETURNING id",
            t.id, account or "")

    def token_of(self, t, role):
        tok = self.c.call("POST", "/v1/tokens", {"user_id": t.users[role], "name": "fixture"},
                          self.manager(t))
        return self.stack.expect(tok, 201, f"tenant {t.name}: a fixture token for the {role}")["id"]

    def shared_account(self, t):
        key = ("account", t.name)
        if key not in self.shared:
            self.shared[key] = self.account(t)
        return self.shared[key]

    def schedule(self, t):
        """A new schedule of tenant t (firing at 20:00 Berlin time on weekdays)."""
        a = self.c.call("POST", "/v1/schedules",
                        {"name": f"fixture {secrets.token_hex(6)}", "cron": "0 20 * * 1-5",
                         "time_zone": "Europe/Berlin", "operation": "ec2.stop",
                         "target": {"accounts": "all", "regions": "all",
                                    "selector": {"tags": {"env": ["dev"]}}}},
                        self.manager(t))
        return self.stack.expect(a, 201, f"tenant {t.name}: POST /v1/schedules for a fixture")

    def shared_schedule(self, t):
        key = ("schedule", t.name)
        if key not in self.shared:
            self.shared[key] = self.schedule(t)
        return self.shared[key]

    def channel(self, t):
        """A new webhook channel of tenant t (its receiver never listens)."""
        a = self.c.call("POST", "/v1/channels",
                        {"name": f"fixture {secrets.token_hex(6)}", "kind": "webhook",
                         "url": "http://127.0.0.1:9/hook", "hmac_key": secrets.token_hex(16)},
                        self.manager(t))
        return self.stack.expect(a, 201, f"tenant {t.name}: POST /v1/channels for a fixture")

    def shared_channel(self, t):
        key = ("channel", t.name)
        if key not in self.shared:
            self.shared[key] = self.channel(t)
        return self.shared[key]

    def shared_job(self, t):
        key = ("job", t.name)
        if key not in self.shared:
            self.shared[key] = self.job(t, self.shared_account(t)["id"])
        return self.shared[key]

    def make(self, route, t, role):
        """(path, body) for route called by role of tenant t, or raise
        KeyError for a route the fixtures do not know."""
        key = (route.method, route.pattern)
        p = route.pattern
        if not route.params:
            bodies = {
                ("POST", "/v1/users"): lambda: {"email": f"u{secrets.token_hex(6)}@{t.name.lower()}.example",
                                                "role": "viewer"},
                ("POST", "/v1/tokens"): lambda: {"name": f"matrix {role}"},
                ("POST", "/v1/accounts"): lambda: {"role_arn": role_arn(fresh_account_id()),
                                                   "verify": False},
                ("POST", "/v1/discovery"): lambda: {"management_role_arn":
                                                    "arn:aws:iam::111122223333:role/OrgReader"},
                ("POST", "/v1/schedules"): lambda: {"name": f"matrix {role} {secrets.token_hex(6)}",
                                                    "cron": "30 7 * * 1-5",
                                                    "time_zone": "Europe/Berlin",
                                                    "operation": "ec2.start",
                                                    "target": {"accounts": "all", "regions": "all",
                                                               "selector": {"state": "stopped"}}},
                ("POST", "/v1/channels"): lambda: {"name": f"matrix {role} {secrets.token_hex(6)}",
                                                   "kind": "slack",
                                                   "url": "https://hooks.slack.com/services/T0/B0/x"},
                ("POST", "/v1/schedules/preview"): lambda: {"cron": "0 20 * * 1-5",
                                                            "time_zone": "Europe/Berlin",
                                                            "count": 3},
                ("POST", "/v1/chat"): lambda: {"message": "list the running dev instances",
                                               "context": {"default_region": "eu-west-1"}},
                # Medium risk, so the executor may run it for real too.
                ("POST", "/v1/runs"): lambda: {"operation": "ec2.stop",
                                               "target": {"accounts": "all", "regions": "all",
                                                          "selector": {"tags": {"env": ["dev"]}}}},
            }
            if route.method == "GET":
                return p, None
            if key in bodies:
                return p, bodies[key]()
            raise KeyError(str(route))
        if p.startswith("/v1/accounts/{id}"):
            if route.method == "DELETE":
                return route.path(id=self.account(t)["id"]), None
            acct = self.shared_account(t)
            if route.method == "PATCH":
                return route.path(id=acct["id"]), {"name": f"renamed by {role}"}
            if key in {("GET", "/v1/accounts/{id}"), ("POST", "/v1/accounts/{id}/verify")}:
                return route.path(id=acct["id"]), None
        if p.startswith("/v1/schedules/{id}"):
            if route.method == "DELETE":
                return route.path(id=self.schedule(t)["id"]), None
            sched = self.shared_schedule(t)
            if route.method == "PATCH":
                return route.path(id=sched["id"]), {"name": f"renamed by {role}"}
            if route.method == "GET":
                return route.path(id=sched["id"]), None
            if key == ("POST", "/v1/schedules/{id}/run"):  # ec2.stop: medium risk
                return route.path(id=sched["id"]), {"dry_run": True}
        if p.startswith("/v1/channels/{id}"):
            if route.method == "DELETE":
                return route.path(id=self.channel(t)["id"]), None
            ch = self.shared_channel(t)
            if route.method == "PATCH":
                return route.path(id=ch["id"]), {"name": f"renamed by {role} {secrets.token_hex(4)}"}
            return route.path(id=ch["id"]), None
        if p == "/v1/users/{id}" and route.method == "GET":
            return route.path(id=t.users["viewer"]), None
        if p == "/v1/tokens/{id}" and route.method == "DELETE":
            return route.path(id=self.token_of(t, role)), None
        if p == "/v1/jobs/{id}" and route.method == "GET":
            return route.path(id=self.shared_job(t)), None
        if p == "/v1/jobs/{id}/cancel" and route.method == "POST":
            return route.path(id=self.job(t)), None
        raise KeyError(str(route))

    def objects(self, t):
        """One id per kind of object of tenant t, for the routes with {id}:
        {kind: id}. Makes them once."""
        key = ("objects", t.name)
        if key not in self.shared:
            acct = self.shared_account(t)
            self.shared[key] = {
                "account": acct["id"],
                "account_number": acct["account_id"],
                "user": t.users["viewer"],
                "token": t.token_ids["viewer"],
                "job": self.shared_job(t),
                "schedule": self.shared_schedule(t)["id"],
                "channel": self.shared_channel(t)["id"],
            }
        return self.shared[key]


def kind_of(route):
    """Which kind of object a route's {id} names."""
    for prefix, kind in (("/v1/accounts/", "account"), ("/v1/users/", "user"),
                         ("/v1/tokens/", "token"), ("/v1/jobs/", "job"),
                         ("/v1/schedules/", "schedule"), ("/v1/channels/", "channel")):
        if route.pattern.startswith(prefix):
            return kind
    raise KeyError(f"no kind of object known for {route}'s {{id}}")


def success_status(route):
    """The status an admitted caller with a valid request should get."""
    table = {"POST": 201, "DELETE": 204}
    special = {
        ("POST", "/v1/accounts/{id}/verify"): 202,
        ("POST", "/v1/discovery"): 202,
        ("POST", "/v1/jobs/{id}/cancel"): 200,
        ("POST", "/v1/schedules/preview"): 200,
        ("POST", "/v1/channels/{id}/test"): 202,
        ("POST", "/v1/runs"): 202,
        ("POST", "/v1/schedules/{id}/run"): 202,
        ("POST", "/v1/chat"): 200,
    }
    return special.get((route.method, route.pattern), table.get(route.method, 200))


def print_table(header, rows, out=sys.stdout):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = "  ".join(str(h).ljust(w) for h, w in zip(header, widths))
    print(line, file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)), file=out)
    out.flush()
