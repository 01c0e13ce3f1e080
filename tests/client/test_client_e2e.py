#!/usr/bin/python3
"""End to end for the client's server commands: the real escher binary
against escher-api, one escher-worker and escher-sandbox (tests/e2e's
e2elib), so the commands meet real jobs, not results written by the test.

The sandbox: a management account and 3 members in us-east-1 and eu-west-1
(one member SUSPENDED), roles trusting tenant A's ExternalId, instances
tagged env=dev and env=prod with some running. The client runs with fake
AWS credentials in its environment (it must not use them: every AWS call
here is the worker's). Checked:
  - onboarding show: the ExternalId the sandbox's roles trust;
  - accounts discover --wait: every ACTIVE account verified, the SUSPENDED
    member skipped, exit 0, one row each; accounts list shows them verified;
  - runs plan: one row per env=dev instance of the verified accounts,
    "would stop" for the running ones, and GET /state unchanged;
  - runs start --wait: exit 0, the job's steps printed, and in the sandbox
    every running env=dev instance stopping or stopped, env=prod untouched;
  - channels create --generate-secret, channels test: the receiver gets the
    test delivery signed with the key the client printed;
  - runs list --kind: each kind's jobs with what they were about.

Usage: test_client_e2e.py ESCHER ESCHER_API ESCHER_WORKER ESCHER_SANDBOX
Standard library only; exit 77 (skipped) without ESCHER_TEST_PG_URL.
"""
import csv
import hashlib
import hmac
import http.server
import io
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from e2elib import (PG, SANITIZER_RE, Stack, check, clean_env, instances, need,  # noqa: E402
                    phase, run)

REGIONS = ["us-east-1", "eu-west-1"]
DEV = json.dumps({"accounts": "all", "regions": "all", "selector": {"tags": {"env": ["dev"]}}})
MASTER_KEY = os.urandom(32).hex()
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}


class Receiver:
    """The customer's webhook endpoint: records every POST, answers 200."""

    def __init__(self):
        self.requests = []
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                rec.requests.append((dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class ClientE2E(Stack):
    def __init__(self, escher, api_bin, worker_bin, sandbox_bin):
        super().__init__("e2ec", api_bin, worker_bin, sandbox_bin)
        self.escher = escher

    def arn(self, acct, name):
        return f"arn:aws:iam::{acct}:role/{name}"

    def cli(self, *args, timeout=120):
        """Runs escher with tenant A's manager token: the CompletedProcess."""
        env = clean_env(["ESCHER_", "AWS_", "XDG_"], dict(FAKE_AWS, **{
            "ESCHER_URL": f"http://127.0.0.1:{self.api.port}", "ESCHER_TOKEN": self.a.token,
            "HOME": self.tmp, "XDG_CONFIG_HOME": os.path.join(self.tmp, "cfg")}))
        p = subprocess.run([self.escher, *args], capture_output=True, text=True, env=env,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        bad = SANITIZER_RE.search(p.stderr)
        check(bad is None, f"escher {' '.join(args)}: no sanitizer report", p.stderr[-1500:])
        print(f"  $ escher {' '.join(args)}  -> exit {p.returncode}")
        return p

    def setup(self):
        phase("database, migrate, bootstrap")
        self.create_db()
        self.a = self.bootstrap("A")

        phase("escher-sandbox: management + 3 members (one SUSPENDED), 2 regions")
        def suspend_one(world):
            mgmt = [a["id"] for a in world["accounts"] if a["is_management"]]
            need(len(mgmt) == 1, "the world has one management account")
            self.mgmt = mgmt[0]
            self.suspended = sorted(a["id"] for a in world["accounts"]
                                    if not a["is_management"])[2]
            for a in world["accounts"]:
                if a["id"] == self.suspended:
                    a["status"] = "SUSPENDED"

        state = self.start_world_sandbox(["--accounts", "3", "--regions", ",".join(REGIONS),
                                          "--seed", "5", "--external-id", self.a.external_id],
                                         ["--external-id", self.a.external_id], suspend_one)
        self.hub_arn = state["hub"]["users"][0]["arn"]
        self.active = sorted(a["id"] for a in state["accounts"] if a["status"] == "ACTIVE")
        need(len(self.active) == 3 and self.suspended not in self.active,
             "sandbox: 3 ACTIVE accounts and a SUSPENDED member", str(self.active))

        phase("escher-api and escher-worker (with a master key for channels)")
        self.start_api("--master-key", MASTER_KEY)
        self.start_worker("--master-key", MASTER_KEY)

    def onboarding(self):
        phase("escher onboarding show")
        p = self.cli("onboarding", "show", "--output", "json")
        doc = json.loads(p.stdout) if p.returncode == 0 else {}
        check(doc.get("external_id") == self.a.external_id and
              doc.get("escher_principal_arn") == self.hub_arn,
              "onboarding show: the ExternalId the sandbox's roles trust, the hub principal",
              p.stdout[:300] + p.stderr)

    def discover(self):
        phase("escher accounts discover --wait")
        p = self.cli("accounts", "discover", "--management-role-arn",
                     self.arn(self.mgmt, "EscherReadOnly"), "--regions", ",".join(REGIONS),
                     "--wait", "--output", "csv")
        rows = list(csv.reader(io.StringIO(p.stdout)))
        by = {r[0]: r[1] for r in rows[1:]}
        check(p.returncode == 0, "discover --wait: exit 0 (nothing failed)",
              f"exit {p.returncode}: {p.stderr[-800:]}")
        check(all(by.get(a) == "verified" for a in self.active) and
              by.get(self.suspended) == "skipped (SUSPENDED)" and len(rows) == 5,
              "discover --wait: every ACTIVE account verified, the SUSPENDED member skipped",
              p.stdout)
        p = self.cli("accounts", "list", "--output", "json")
        accts = json.loads(p.stdout) if p.returncode == 0 else []
        check(sorted(a["account_id"] for a in accts if a["status"] == "verified") == self.active,
              "accounts list: the ACTIVE accounts, verified", p.stdout[:500])

    def plan(self):
        phase("escher runs plan (a dry run through the worker)")
        before = instances(self.sb.admin("GET", "/state"))
        self.dev = sorted(i for i, (acct, _, env, _) in before.items()
                          if acct in self.active and env == "dev")
        self.running = sorted(i for i in self.dev if before[i][3] == "running")
        need(self.running and len(self.running) < len(self.dev),
             "running and stopped env=dev instances", f"{len(self.running)} of {len(self.dev)}")
        p = self.cli("runs", "plan", "--operation", "ec2.stop", "--target", DEV, "--output", "json")
        r = json.loads(p.stdout) if p.returncode == 0 else {}
        res = {x["id"]: x for x in r.get("resources", [])}
        check(p.returncode == 0 and r.get("dry_run") is True and sorted(res) == self.dev,
              f"runs plan: one row per env=dev instance ({len(self.dev)})",
              f"exit {p.returncode}: {p.stderr[-500:]} {sorted(res)[:5]}")
        would = sorted(i for i, x in res.items()
                       if x.get("action") == "would stop" and x.get("outcome") == "planned")
        check(would == self.running, "runs plan: 'would stop' (planned) for exactly the running ones",
              f"{would} vs {self.running}")
        p = self.cli("runs", "plan", "--operation", "ec2.stop", "--target", DEV)
        check(p.returncode == 0 and "would stop" in p.stdout and "nothing was changed" in p.stdout,
              "runs plan (table): rows and the summary", p.stdout[-500:])
        after = instances(self.sb.admin("GET", "/state"))
        check(after == before, "GET /state unchanged by the plans")
        self.before = before

    def start(self):
        phase("escher runs start --wait")
        p = self.cli("runs", "start", "--operation", "ec2.stop", "--target", DEV, "--wait")
        check(p.returncode == 0 and "queued" in p.stdout and "step " in p.stdout and
              "succeeded: run succeeded" in p.stdout,
              "runs start --wait: the job's steps and its end, exit 0",
              f"exit {p.returncode}: {p.stdout[-800:]} {p.stderr[-500:]}")
        after = instances(self.sb.admin("GET", "/state"))
        moved = sorted(i for i in self.running if after[i][3] not in ("stopping", "stopped"))
        check(not moved, "every running env=dev instance is stopping or stopped", str(moved))
        prod = [i for i, v in self.before.items() if v[2] != "dev" and after[i][3] != v[3]]
        check(not prod, "no other instance changed", str(prod))

    def channel(self):
        phase("escher channels create --generate-secret, channels test")
        rcv = Receiver()
        p = self.cli("channels", "create", "--name", "e2e hook", "--kind", "webhook", "--url",
                     rcv.url, "--generate-secret", "--output", "json")
        ch = json.loads(p.stdout) if p.returncode == 0 else {}
        key = ch.get("hmac_key", "")
        check(len(key) == 64 and key not in p.stderr, "the generated key is printed (stdout)",
              p.stdout + p.stderr)
        p = self.cli("channels", "test", ch.get("id", "none"), "--output", "json")
        job = json.loads(p.stdout).get("job") if p.returncode == 0 else None
        check(job is not None, "channels test queues the delivery", p.stderr)
        deadline = time.time() + 30
        while time.time() < deadline and not any(h.get("X-Escher-Event") == "test"
                                                 for h, _ in rcv.requests):
            time.sleep(0.1)
        got = [(h, b) for h, b in rcv.requests if h.get("X-Escher-Event") == "test"]
        check(len(got) == 1, "the receiver got the test delivery", str(len(rcv.requests)))
        if got:
            h, body = got[0]
            want = "sha256=" + hmac.new(key.encode(), h.get("X-Escher-Timestamp", "").encode() +
                                        b"." + body, hashlib.sha256).hexdigest()
            check(hmac.compare_digest(want, h.get("X-Escher-Signature", "")),
                  "signed with the key the client generated and printed")
        rcv.server.shutdown()

    def listing(self):
        phase("escher runs list --kind")
        for kind, what in (("org.discover", "organization of arn:"), ("ops.run", "ec2.stop"),
                           ("notify.deliver", "test to channel")):
            p = self.cli("runs", "list", "--kind", kind, "--output", "csv")
            rows = list(csv.reader(io.StringIO(p.stdout)))
            head = rows[0] if rows else []
            ok = p.returncode == 0 and "what" in head and len(rows) > 1 and all(
                r[head.index("kind")] == kind and r[head.index("what")].startswith(what)
                for r in rows[1:])
            check(ok, f"runs list --kind {kind}: its jobs, each '{what} ...'", p.stdout[:600])


def main():
    if len(sys.argv) != 5:
        raise SystemExit(f"usage: {sys.argv[0]} ESCHER ESCHER_API ESCHER_WORKER ESCHER_SANDBOX")
    if not PG:
        print("SKIP: ESCHER_TEST_PG_URL is not set")
        return 77
    t = ClientE2E(*sys.argv[1:])
    return run(t, [t.setup, t.onboarding, t.discover, t.plan, t.start, t.channel, t.listing])


if __name__ == "__main__":
    sys.exit(main())
