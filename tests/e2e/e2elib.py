"""Shared parts of the end-to-end tests (tests/e2e/test_*.py): checks and
phases with timings, the programs as subprocesses logging JSON lines, psql,
an HTTP client of escher-api, escher-sandbox's admin API, and Stack, which
makes a private database (migrated, with a login role in escher_worker),
bootstraps tenants and starts escher-api and escher-worker on it.

Standard library only (Debian's /usr/bin/python3). A test calls check() and
need() as it goes, phase() between scenarios, Stack.close() at the end and
returns report()'s exit code.
"""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse

SOURCE = os.environ.get("ESCHER_SOURCE_DIR",
                        os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
MIGRATIONS = os.path.join(SOURCE, "migrations")
PG = os.environ.get("ESCHER_TEST_PG_URL", "").split("?")[0]
REDIS = os.environ.get("ESCHER_TEST_REDIS_URL", "redis://127.0.0.1:1")
SANITIZER_RE = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
DONE = ("succeeded", "failed", "cancelled")

T0 = time.monotonic()
failures = []
passed = 0
timings = []


def check(cond, what, detail=""):
    global passed
    if cond:
        passed += 1
        shown = detail if len(detail) <= 400 else detail[:400] + "..."
        print(f"ok: {what}" + (f" [{shown}]" if detail else ""), flush=True)
    else:
        failures.append(f"{what}: {detail}"[:3000])
        print(f"FAIL: {what}: {detail}"[:3000], flush=True)
    return cond


class Stop(Exception):
    """A setup step failed: the rest cannot run."""


def need(cond, what, detail=""):
    if not check(cond, what, detail):
        raise Stop(what)


def phase(name):
    now = time.monotonic() - T0
    if timings:
        timings[-1][2] = now
    timings.append([name, now, None])
    print(f"\n== {name} (t={now:.1f}s)", flush=True)


# ---- processes --------------------------------------------------------------------


def clean_env(drop_prefixes, extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(tuple(drop_prefixes))}
    env.update(extra or {})
    return env


class Proc:
    """A program whose stdout and stderr go to a log file; ready when the
    log has a line whose "msg" is ready_msg (that line's JSON is kept)."""

    def __init__(self, name, cmd, log_path, env, ready_msg, timeout=30):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)
        self.rc = None
        self.info = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.info = self.line_with(ready_msg)
            if self.info:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.01)
        self.kill()
        raise Stop(f"{name} did not log '{ready_msg}': {' '.join(cmd)}\n{self.text()[-4000:]}")

    def text(self):
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()

    def lines(self):
        out = []
        for line in self.text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def line_with(self, msg):
        for obj in self.lines():
            if isinstance(obj, dict) and obj.get("msg") == msg:
                return obj
        return None

    def stop(self, timeout=30):
        """SIGTERM; checks exit 0 and no sanitizer report. Returns the code."""
        if self.rc is not None:
            return self.rc
        alive = self.proc.poll() is None
        if alive:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.rc = self.proc.wait()
            check(False, f"{self.name} exits within {timeout} s of SIGTERM")
        self.log.close()
        text = self.text()
        bad = SANITIZER_RE.search(text)
        check(alive, f"{self.name} was still running when stopped", f"exit {self.rc}")
        check(self.rc == 0, f"{self.name} exits 0 on SIGTERM", f"exit {self.rc}\n{text[-3000:]}")
        check(bad is None, f"{self.name}'s log has no sanitizer report",
              text[max(0, bad.start() - 200):bad.start() + 4000] if bad else "")
        return self.rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.rc = self.proc.wait()
        if not self.log.closed:
            self.log.close()


# ---- database ---------------------------------------------------------------------


def psql(url, sql):
    p = subprocess.run(["/usr/bin/psql", url, "-qAt", "-F", "\t", "-v", "ON_ERROR_STOP=1"],
                       input=sql, capture_output=True, text=True)
    if p.returncode != 0:
        raise Stop(f"psql: {p.stderr.strip()}\nSQL: {sql}")
    return [line.split("\t") for line in p.stdout.splitlines() if line != ""]


def with_user(url, user):
    return re.sub(r"^(postgres(?:ql)?://)[^@/]*@", r"\1" + user + "@", url)


# ---- HTTP -------------------------------------------------------------------------


class Api:
    def __init__(self, port):
        self.port = port

    def call(self, method, path, token, body=None):
        """(status, JSON or None)."""
        headers = {"Authorization": "Bearer " + token}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = raw.decode("utf-8", "replace")
        return resp.status, doc

    def want(self, status, method, path, token, body=None):
        """The answer's JSON; stops the test unless the status is status
        (quietly: the checks print what they look at)."""
        st, doc = self.call(method, path, token, body)
        if st != status:
            need(False, f"{method} {path} -> {status}", f"got {st} {json.dumps(doc)[:600]}")
        return doc

    def all_items(self, path, token):
        """Every item of a paged list."""
        items, cursor = [], None
        while True:
            sep = "&" if "?" in path else "?"
            p = path + sep + "limit=500" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
            doc = self.want(200, "GET", p, token)
            items += doc["items"]
            cursor = doc.get("next_cursor")
            if not cursor:
                return items

    def wait_jobs(self, jobs, token, timeout=30):
        """Polls GET /v1/jobs/{id} until every job is finished: {id: job}."""
        deadline = time.monotonic() + timeout
        out = {}
        while True:
            for j in jobs:
                if j not in out:
                    doc = self.want(200, "GET", f"/v1/jobs/{j}", token)
                    if doc["state"] in DONE:
                        out[j] = doc
            if len(out) == len(jobs):
                return out
            if time.monotonic() > deadline:
                left = {j: self.call("GET", f"/v1/jobs/{j}", token)[1] for j in jobs if j not in out}
                raise Stop(f"jobs not finished after {timeout} s: {json.dumps(left)[:2000]}")
            time.sleep(0.05)


class Sandbox:
    def __init__(self, proc):
        self.proc = proc
        self.port = proc.info["port"]
        self.admin_port = proc.info["admin_port"]
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def admin(self, method, path):
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=30)
        try:
            conn.request(method, path)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        if resp.status != 200:
            need(False, f"sandbox admin {method} {path}", f"{resp.status} {raw[:300]!r}")
        return json.loads(raw)


def start_sandbox(binary, tmp, name, args):
    cmd = [binary, "--listen", "127.0.0.1", "--port", "0", "--admin-port", "0",
           "--log-level", "info", *args]
    p = Proc(name, cmd, os.path.join(tmp, f"{name}.log"), clean_env(["ESCHER_SANDBOX_"]),
             "listening")
    return Sandbox(p)


def tag_world(world):
    """Every region of every account of a sandbox world (GET /state's
    shape): even positions env=dev, odd env=prod, and one in four of each
    made running, so each region has running and stopped dev instances with
    prod ones beside them."""
    for acct in world["accounts"]:
        for reg in acct["regions"]:
            for k, inst in enumerate(reg["instances"]):
                tags = [t for t in inst.get("tags", []) if t["Key"] != "env"]
                tags.append({"Key": "env", "Value": "dev" if k % 2 == 0 else "prod"})
                inst["tags"] = tags
                if k % 4 in (0, 1) and inst["state"] == "stopped":
                    inst["state"] = "running"


def instances(state):
    """{instance id: (account, region, env, state)} from GET /state."""
    out = {}
    for acct in state["accounts"]:
        for reg in acct["regions"]:
            for inst in reg["instances"]:
                env = next((t["Value"] for t in inst.get("tags", []) if t["Key"] == "env"), None)
                out[inst["id"]] = (acct["id"], reg["name"], env, inst["state"])
    return out


def client_env(home, aws_dir, extra=None):
    """The environment of an escher client on the profiles escher-sandbox
    wrote with --aws-config aws_dir: HOME and XDG_* under home, none of the
    caller's ESCHER_ or AWS_ variables, no instance metadata."""
    return clean_env(["ESCHER_", "AWS_"], {
        "HOME": home, "XDG_CONFIG_HOME": os.path.join(home, ".config"),
        "XDG_DATA_HOME": os.path.join(home, ".local", "share"),
        "AWS_CONFIG_FILE": os.path.join(aws_dir, "config"),
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(aws_dir, "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true", **(extra or {})})


def sandbox_secrets(aws_dir):
    """The access key ids and secret keys escher-sandbox wrote to aws_dir:
    what must never reach escher-api."""
    with open(os.path.join(aws_dir, "credentials")) as f:
        return [line.split("=", 1)[1].strip() for line in f
                if line.strip().startswith(("aws_secret_access_key", "aws_access_key_id"))]


# ---- the stack --------------------------------------------------------------------


class Tenant:
    def __init__(self, name, kv, email):
        self.name = name
        self.id = kv["tenant_id"]
        self.external_id = kv["external_id"]
        self.token = kv["api_token"]
        self.email = email


class Stack:
    """A private database of the test PostgreSQL and the programs on it.
    Subclasses keep their own scenario state; every process they start goes
    into self.procs, stopped (SIGTERM, exit 0 checked) by close()."""

    def __init__(self, prefix, api_bin, worker_bin, sandbox_bin):
        self.prefix = prefix
        self.api_bin, self.worker_bin, self.sandbox_bin = api_bin, worker_bin, sandbox_bin
        self.tmp = tempfile.mkdtemp(prefix=f"escher-{prefix}-")
        self.db_name = f"escher_t_{prefix}_{os.getpid()}"
        self.db_url = PG.rsplit("/", 1)[0] + "/" + self.db_name
        self.worker_role = f"escher_t_{prefix}_w_{os.getpid()}"
        self.db_created = False
        self.procs = []
        self.worker_logs = []
        self.api_tokens = []  # every API token the test saw: none may be stored or logged
        self.aws_dir = os.path.join(self.tmp, "aws")  # the sandbox's --aws-config

    def create_db(self):
        """CREATE DATABASE, escher-api migrate, and the workers' login role."""
        psql(PG, f"CREATE DATABASE {self.db_name}")
        self.db_created = True
        mig = subprocess.run([self.api_bin, "--database-url", self.db_url, "--migrations-dir",
                              MIGRATIONS, "migrate"], capture_output=True, text=True)
        need(mig.returncode == 0, "escher-api migrate", mig.stderr[-2000:])
        # Workers (and the scheduler) log in as a role that is only a member
        # of escher_worker (the migrations create that cluster-wide role), as
        # in production.
        psql(PG, f"DROP ROLE IF EXISTS {self.worker_role};"
                 f" CREATE ROLE {self.worker_role} LOGIN IN ROLE escher_worker")

    def bootstrap(self, name):
        email = f"manager@{name.lower()}.example"
        out = subprocess.run([self.api_bin, "--database-url", self.db_url, "bootstrap", "--tenant",
                              f"{self.prefix}-{name}", "--email", email],
                             capture_output=True, text=True)
        need(out.returncode == 0, f"bootstrap tenant {name}", out.stderr[-2000:])
        kv = dict(line.split(": ", 1) for line in out.stdout.splitlines() if ": " in line)
        t = Tenant(name, kv, email)
        self.api_tokens.append(t.token)
        print(f"  tenant {name}: {t.id}, external id {t.external_id}, manager {email}")
        return t

    def start_world_sandbox(self, generate, serve=(), edit=None):
        """escher-sandbox on a world made for the test: one generated with
        the arguments `generate`, given env=dev/env=prod tags (tag_world) and
        edit(world) when set, then served with `serve` added and its profiles
        in self.aws_dir. Sets self.sb (stopped by close()) and returns its
        GET /state."""
        first = start_sandbox(self.sandbox_bin, self.tmp, "sandbox-generate", list(generate))
        world = first.admin("GET", "/state")
        first.proc.stop()
        tag_world(world)
        if edit:
            edit(world)
        world_file = os.path.join(self.tmp, "world.json")
        with open(world_file, "w") as f:
            json.dump(world, f)
        self.sb = start_sandbox(self.sandbox_bin, self.tmp, "sandbox",
                                ["--world", world_file, *serve, "--aws-config", self.aws_dir])
        self.procs.append(self.sb.proc)
        return self.sb.admin("GET", "/state")

    def start_api(self, *extra):
        """escher-api on a free port as the sandbox's principal (self.hub_arn)."""
        api = Proc("escher-api",
                   [self.api_bin, "--database-url", self.db_url, "--migrations-dir", MIGRATIONS,
                    "--listen", "127.0.0.1", "--port", "0", "--threads", "2", "--redis-url", REDIS,
                    "--escher-principal-arn", self.hub_arn, "--log-level", "debug", *extra],
                   os.path.join(self.tmp, "api.log"), clean_env(["ESCHER_API_"]), "listening")
        self.procs.append(api)
        self.api_proc = api
        self.api = Api(api.info["port"])
        return api

    def start_worker(self, *extra):
        """escher-worker as the sandbox's hub profile (default credential chain)."""
        n = len(self.worker_logs)
        env = clean_env(["AWS_", "ESCHER_WORKER_"], {
            "AWS_CONFIG_FILE": os.path.join(self.aws_dir, "config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.aws_dir, "credentials"),
            "AWS_PROFILE": "hub",
            "AWS_EC2_METADATA_DISABLED": "true",
        })
        w = Proc(f"escher-worker #{n + 1}",
                 [self.worker_bin, "--database-url", with_user(self.db_url, self.worker_role),
                  "--redis-url", REDIS, "--endpoint-url", self.sb.endpoint,
                  "--poll-interval", "200ms", "--log-level", "debug", *extra],
                 os.path.join(self.tmp, f"worker-{n}.log"), env, "worker started")
        self.worker_logs.append(w.log_path)
        self.procs.append(w)
        return w

    def close(self):
        phase("stop")
        for p in reversed(self.procs):
            if p.rc is None:
                p.stop()
        if self.db_created:
            subprocess.run(["/usr/bin/psql", PG, "-qAt", "-c",
                            f"DROP DATABASE IF EXISTS {self.db_name} WITH (FORCE)"],
                           capture_output=True)
        subprocess.run(["/usr/bin/psql", PG, "-qAt", "-c", f"DROP ROLE IF EXISTS {self.worker_role}"],
                       capture_output=True)
        if failures:
            keep = os.path.join(tempfile.gettempdir(), f"escher-{self.prefix}-logs-{os.getpid()}")
            shutil.copytree(self.tmp, keep, ignore=shutil.ignore_patterns("aws"))
            print(f"logs kept in {keep}")
        shutil.rmtree(self.tmp, ignore_errors=True)


def run(stack, scenarios):
    """Runs the scenario methods in order (a Stop ends them), closes the
    stack and prints the report: the exit code."""
    try:
        for s in scenarios:
            s()
    except Stop as e:
        failures.append(f"stopped early: {e}")
        print(f"STOP: {e}", flush=True)
    finally:
        stack.close()
    return report()


def report():
    """Timings and failures; the exit code (0 or 1)."""
    phase("done")
    print("\ntimings:")
    for name, start, end in timings[:-1]:
        print(f"  {end - start:6.2f} s  {name}")
    print(f"  {time.monotonic() - T0:6.2f} s  total")
    if failures:
        print(f"\n{len(failures)} failed:")
        for f in failures:
            print("  -", f[:1500])
    print(f"{passed} passed, {len(failures)} failed")
    return 1 if failures else 0
