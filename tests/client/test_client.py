"""The escher client's commands (services/client) against a real escher-api.

argv: ESCHER_BINARY ESCHER_API_BINARY. tests/api/apitest.py's Stack makes a
private database on $ESCHER_TEST_PG_URL with tenants A and B and starts
escher-api. Every client run gets its own XDG_CONFIG_HOME (login state) and
goes through a recording proxy, so the test can check that no request the
client sends carries AWS credential material, even with AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN set in its environment.
Standard library only.
"""
import csv
import http.client
import http.server
import io
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import pty

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
import apitest  # noqa: E402
import admin_checks  # noqa: E402  (tests/client/admin_checks.py)

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEXAMPLESESSIONTOKENvalue0123456789",
}


class Recorder:
    """A forwarding HTTP proxy to escher-api that keeps every request's
    method, path, headers and body."""

    def __init__(self, upstream_port):
        self.requests = []
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def forward(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                rec.requests.append((self.command, self.path, str(self.headers), body))
                h = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                c = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                c.request(self.command, self.path, body=body or None, headers=h)
                r = c.getresponse()
                data = r.read()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                c.close()

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def main():
    if len(sys.argv) != 3:
        raise SystemExit(f"usage: {sys.argv[0]} ESCHER_BINARY ESCHER_API_BINARY")
    escher, api = sys.argv[1], sys.argv[2]
    res = apitest.Results("client")
    apitest.skip_without_pg()
    stack = apitest.Stack(api, "client", res)
    rec = Recorder(stack.server.port)
    home = tempfile.mkdtemp(prefix="escher-client-")
    try:
        run_checks(escher, stack, rec, home, res)
    finally:
        rec.close()
        stack.close()
    res.finish()


def run_checks(escher, stack, rec, home, res):
    url = f"http://127.0.0.1:{rec.port}"
    A = stack.tenants["A"]
    manager = A.tokens["manager"]
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("ESCHER_", "AWS_"))}
    base_env.update(AWS_ENV)
    base_env["XDG_CONFIG_HOME"] = os.path.join(home, "config")
    base_env["HOME"] = home

    outputs = []  # (args, stdout, stderr) of every run, for the secret checks

    def run(*args, env=None, input=None):
        e = dict(base_env)
        e.update(env or {})
        p = subprocess.run([escher, *args], capture_output=True, text=True, env=e, timeout=120,
                           input=input if input is not None else "")
        if apitest.SANITIZER_RE.search(p.stderr):
            res.check(False, f"escher {' '.join(args)}: no sanitizer report", p.stderr[-2000:])
        outputs.append((args, p.stdout, p.stderr))
        return p

    def ok(p, what):
        return res.check(p.returncode == 0, what, f"exit {p.returncode}: {p.stderr.strip()[:500]}")

    # login, whoami, the state file
    p = run("login", "--server", url, "--token", manager)
    ok(p, "login with a manager's token")
    cfg = os.path.join(home, "config", "escher", "config")
    res.check(os.path.exists(cfg), "login writes $XDG_CONFIG_HOME/escher/config")
    if os.path.exists(cfg):
        res.check(stat.S_IMODE(os.stat(cfg).st_mode) == 0o600, "the state file is mode 0600",
                  oct(os.stat(cfg).st_mode))
        text = open(cfg).read()
        res.check(url in text and manager in text, "the state file holds the server and token")
    if os.path.exists(cfg):
        os.chmod(cfg, 0o644)
        p = run("whoami")
        res.check(p.returncode == 0 and "readable by others" in p.stderr,
                  "a state file others can read is warned about", p.stderr)
        os.chmod(cfg, 0o600)
    p = run("login", "--server", url, "--token", "esk_not_a_token")
    res.check(p.returncode == 1 and "request id" in p.stderr, "login with a bad token fails with the "
              "API's message and request id", p.stderr)
    p = run("whoami", "--output", "json")
    if ok(p, "whoami"):
        me = json.loads(p.stdout)
        res.check(me.get("email") == A.emails["manager"] and me.get("role") == "manager",
                  "whoami names the manager", p.stdout)
    # ESCHER_URL / ESCHER_TOKEN override the state file
    p = run("whoami", "--output", "json", env={"ESCHER_URL": url, "ESCHER_TOKEN": A.tokens["viewer"]})
    if ok(p, "whoami with ESCHER_URL/ESCHER_TOKEN"):
        res.check(json.loads(p.stdout).get("role") == "viewer", "ESCHER_TOKEN overrides the login")

    # accounts in table / json / csv, across pages
    fx = apitest.Fixtures(stack)
    # 501 accounts: one more than the client's page of 500, so listings must
    # follow next_cursor to be complete.
    made = [fx.account(A) for _ in range(501)]
    p = run("accounts", "list", "--output", "json")
    if ok(p, "accounts list --output json"):
        got = json.loads(p.stdout)
        res.check(len(got) == 501, "accounts list follows next_cursor to all 501 accounts",
                  str(len(got)))
        api_items = []
        cursor = None
        while True:
            a = stack.client.call("GET", "/v1/accounts?limit=500" +
                                  (f"&cursor={urllib.parse.quote(cursor)}" if cursor else ""),
                                  token=manager).json
            api_items += a["items"]
            cursor = a["next_cursor"]
            if not cursor:
                break
        res.check(got == api_items, "accounts list json equals the API's items")
    p = run("accounts", "list", "--output", "csv")
    if ok(p, "accounts list --output csv"):
        rows = list(csv.reader(io.StringIO(p.stdout)))
        res.check(rows and rows[0][:2] == ["id", "account_id"], "csv has a header", p.stdout[:300])
        res.check(len(rows) == len(api_items) + 1, "csv has a row per account", p.stdout[:300])
    p = run("accounts", "list")
    if ok(p, "accounts list (table)"):
        res.check(all(a["account_id"] in p.stdout for a in made), "the table names every account")
        res.check("\033[" not in p.stdout, "no colour when stdout is not a terminal")
    # colour only on a terminal
    master, slave = pty.openpty()
    e = dict(base_env)
    e.pop("NO_COLOR", None)
    proc = subprocess.Popen([escher, "schedules", "list"], stdout=slave, stderr=subprocess.PIPE,
                            env=e)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    proc.wait(60)
    os.close(master)
    res.check(proc.returncode == 0 and b"\033[1m" in out, "a bold header on a terminal",
              repr(out[:200]))
    p = run("accounts", "show", made[0]["account_id"], "--output", "json")
    if ok(p, "accounts show by 12-digit id"):
        res.check(json.loads(p.stdout).get("id") == made[0]["id"], "accounts show answers the account")

    # schedules create -> preview -> disable -> run -> delete
    target = json.dumps({"accounts": "all", "regions": "all", "selector": {"tags": {"env": ["dev"]}}})
    p = run("schedules", "create", "--name", "nightly dev stop", "--cron", "0 20 * * 1-5", "--zone",
            "Europe/Berlin", "--operation", "ec2.stop", "--target", target, "--output", "json")
    sid = None
    if ok(p, "schedules create"):
        sid = json.loads(p.stdout)["id"]
    p = run("schedules", "create", "--name", "bad", "--cron", "0 20 32 * *", "--operation", "ec2.stop",
            "--target", target)
    res.check(p.returncode == 1 and "out of range" in p.stderr and "request id" in p.stderr,
              "an invalid cron is refused with the API's message", p.stderr)
    if sid:
        p = run("schedules", "preview", sid, "--count", "3", "--output", "json")
        if ok(p, "schedules preview --count 3"):
            res.check(len(json.loads(p.stdout).get("fires", [])) == 3, "three fires", p.stdout[:500])
        p = run("schedules", "preview", sid, "--count", "3")
        ok(p, "schedules preview (table)")
        p = run("schedules", "disable", sid, "--output", "json")
        if ok(p, "schedules disable"):
            res.check(json.loads(p.stdout).get("enabled") is False, "the schedule is disabled")
        p = run("schedules", "list", "--output", "json")
        if ok(p, "schedules list"):
            res.check([s["id"] for s in json.loads(p.stdout)] == [sid], "schedules list has it")
        p = run("schedules", "run", sid, "--dry-run", "--output", "json")
        job = None
        if ok(p, "schedules run --dry-run"):
            ans = json.loads(p.stdout)
            job = ans.get("job") or ans.get("id")
        p = run("runs", "list", "--output", "json")
        if ok(p, "runs list") and job:
            res.check(job in [j["id"] for j in json.loads(p.stdout)], "runs list has the run's job")
        if job:
            p = run("runs", "show", job, "--output", "json")
            if ok(p, "runs show"):
                j = json.loads(p.stdout)
                res.check(j.get("kind") == "ops.run" and j.get("payload", {}).get("dry_run") is True,
                          "runs show: an ops.run dry run", p.stdout[:500])
        if job:
            watch_partial(run, escher, base_env, stack, A, job, res)
        p = run("schedules", "delete", sid)
        ok(p, "schedules delete")
        p = run("schedules", "show", sid)
        res.check(p.returncode == 1 and "request id" in p.stderr, "a deleted schedule is not found",
                  p.stderr)

    # audit
    p = run("audit", "verify", "--output", "json")
    if ok(p, "audit verify"):
        res.check(json.loads(p.stdout).get("intact") is True, "the audit chain is intact")
    p = run("audit", "list", "--output", "csv")
    if ok(p, "audit list --output csv"):
        res.check("schedules.create" in p.stdout, "the audit trail has schedules.create")

    # usage errors: exit 2 with a message
    for args, what in ((["accounts", "list", "--bogus"], "unknown option"),
                       (["accounts", "show"], "missing argument"),
                       (["accounts", "list", "--output", "xml"], "--output"),
                       (["schedules", "create", "--name", "x"], "--cron"),
                       (["nosuch"], "unknown command"),
                       ([], "no command")):
        p = run(*args)
        res.check(p.returncode == 2 and what in p.stderr,
                  f"escher {' '.join(args)}: exit 2 with a message naming {what!r}",
                  f"exit {p.returncode}: {p.stderr}")
    p = run("schedules", "create", "--help")
    res.check(p.returncode == 0 and "--cron" in p.stdout, "per-command --help")
    p = run("help")
    res.check(p.returncode == 0 and "runs watch" in p.stdout, "escher help lists the commands")

    # an unreachable server
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()
    p = run("whoami", env={"ESCHER_URL": dead})
    res.check(p.returncode == 1 and dead in p.stderr and "cannot reach" in p.stderr,
              "an unreachable server: exit 1 naming the URL", f"exit {p.returncode}: {p.stderr}")

    # the commands for the server's other areas (client_cmd_admin.c)
    admin_checks.run_checks(escher, base_env, run, ok, stack, rec, home, res, outputs)

    # nothing the client sent carries AWS credential material
    res.check(len(rec.requests) > 10, "the recorder saw the client's requests", str(len(rec.requests)))
    leaks = []
    for method, path, headers, body in rec.requests:
        blob = (path + headers).encode() + body
        for name, value in AWS_ENV.items():
            if value.encode() in blob or name.encode() in blob:
                leaks.append(f"{method} {path}: {name}")
        if b"X-Amz-" in blob or b"AWS4-HMAC" in blob:
            leaks.append(f"{method} {path}: SigV4 material")
    res.check(not leaks, "no request carries AWS credentials", "; ".join(leaks[:5]))


def watch_partial(run, escher, base_env, stack, A, job, res):
    """runs watch follows the job: a step appears, then the job finishes with
    a partial run (written in the database, as a worker would): exit 3."""
    proc = subprocess.Popen([escher, "runs", "watch", job], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=base_env)
    time.sleep(1.5)
    stack.db.rows("INSERT INTO job_steps (job_id, tenant_id, seq, name, state)"
                  " VALUES (:'v1', :'v2', 1, 'plan', 'begun')", job, A.id)
    time.sleep(1.5)
    stack.db.rows("UPDATE job_steps SET state = 'done', finished_at = now() WHERE job_id = :'v1'",
                  job)
    stack.db.rows("UPDATE jobs SET state = 'succeeded', finished_at = now(),"
                  " result = '{\"state\": \"partial\"}' WHERE id = :'v1'", job)
    out, err = proc.communicate(timeout=60)
    res.check(proc.returncode == 3, "runs watch exits 3 for a run that ended partial",
              f"exit {proc.returncode}: {err}")
    res.check("step 1 plan: begun" in out and "step 1 plan: done" in out,
              "runs watch prints each step's progress", out)
    res.check("partial" in out, "runs watch says the run ended partial", out)


if __name__ == "__main__":
    main()
