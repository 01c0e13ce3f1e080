"""`escher ask` against escher-sandbox with local credentials (issue 6).

The client reads the sandbox's profiles (--aws-config) through lib/aws's
default chain and answers queries on instances itself; a configured server
that is down only earns one line on stderr. Compared with the sandbox's
GET /state, and its call log proves whose credentials were used and that a
mutating sentence without confirmation ran nothing. Standard library only.

usage: test_client_ask.py ESCHER ESCHER_SANDBOX
"""
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import e2elib  # noqa: E402
from e2elib import check, need  # noqa: E402

ESCHER, SANDBOX = sys.argv[1], sys.argv[2]


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Recorder(http.server.BaseHTTPRequestHandler):
    """A stand-in escher-api that records every request it gets."""
    seen = []

    def do_GET(self):
        Recorder.seen.append({"method": "GET", "path": self.path, "headers": str(self.headers)})
        body = b'{"status":"ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        Recorder.seen.append({"method": "POST", "path": self.path, "headers": str(self.headers),
                              "body": self.rfile.read(n).decode(errors="replace")})
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    tmp = tempfile.mkdtemp(prefix="escher-ask-")
    aws_dir = os.path.join(tmp, "aws")
    sbx = e2elib.start_sandbox(SANDBOX, tmp, "sandbox",
                               ["--accounts", "2", "--regions", "us-east-1,eu-west-1",
                                "--seed", "7", "--external-id", "ask-test-0001",
                                "--aws-config", aws_dir])
    try:
        state = sbx.admin("GET", "/state")
        member = next(a for a in state["accounts"] if not a["is_management"])
        acct = member["id"]
        profile = f"acct-{acct}"
        secrets = e2elib.sandbox_secrets(aws_dir)
        need(secrets, "the sandbox wrote credentials", aws_dir)

        def instances(region):
            reg = next(r for r in member["regions"] if r["name"] == region)
            return reg["instances"]

        home = os.path.join(tmp, "home")
        os.makedirs(home)
        base_env = e2elib.client_env(home, aws_dir)

        def ask(sentence, *opts, env=None):
            e = dict(base_env)
            e.update(env or {})
            cmd = [ESCHER, "--profile", profile, "--endpoint-url", sbx.endpoint, *opts,
                   "ask", sentence]
            p = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=60)
            check(not e2elib.SANITIZER_RE.search(p.stderr), f"no sanitizer report: {sentence}",
                  p.stderr[-2000:])
            return p

        # 1. The acceptance: API down, answered from AWS, the unreachable line.
        sbx.admin("DELETE", "/calls")
        dead = f"http://127.0.0.1:{closed_port()}"
        p = ask("list running instances in eu-west-1", "--output", "json",
                env={"ESCHER_URL": dead, "ESCHER_TOKEN": "esk_test"})
        check(p.returncode == 0, "ask list: exit 0", f"{p.returncode} {p.stderr}")
        want = sorted(i["id"] for i in instances("eu-west-1") if i["state"] == "running")
        try:
            got_items = json.loads(p.stdout)
        except ValueError:
            got_items = []
        got = sorted(i.get("id") for i in got_items)
        check(want and got == want, "ask list: exactly the running instances of eu-west-1",
              f"want {len(want)} got {len(got)}")
        check(all(i.get("region") == "eu-west-1" and i.get("account") == acct
                  and i.get("state") == "running" for i in got_items),
              "ask list: account, region and state of every row", p.stdout[:300])
        line = f"escher: the server at {dead} is unreachable; answering locally"
        check(p.stderr.splitlines().count(line) == 1, "ask list: the unreachable line once",
              p.stderr)
        calls = sbx.admin("GET", "/calls")["calls"]
        check(calls and all(c["principal_arn"] == f"arn:aws:iam::{acct}:user/Administrator"
                            and c["assumed_role_arn"] is None for c in calls),
              "call log: the local profile's principal, no Escher role",
              json.dumps([(c["principal_arn"], c["assumed_role_arn"]) for c in calls])[:400])
        check(all(c["action"] == "DescribeInstances" and c["region"] == "eu-west-1"
                  for c in calls), "call log: only DescribeInstances in eu-west-1",
              json.dumps([(c["action"], c["region"]) for c in calls]))

        # Same listing as the table people see, and as csv.
        p = ask("list running instances in eu-west-1")
        check(p.returncode == 0 and all(i in p.stdout for i in want) and p.stderr == "",
              "ask list table: every id, no server configured so no server line",
              p.stdout[:200] + p.stderr)
        p = ask("list running instances in eu-west-1", "--output", "csv")
        rows = p.stdout.strip().splitlines()
        check(p.returncode == 0 and rows and rows[0].startswith("account,region,id")
              and len(rows) == len(want) + 1, "ask list csv: header and one row each",
              p.stdout[:200])

        # 2. Counting with a spaced region code.
        p = ask("how many stopped instances in us east 1", "--output", "json")
        n = sum(1 for i in instances("us-east-1") if i["state"] == "stopped")
        try:
            count = json.loads(p.stdout).get("count")
        except ValueError:
            count = None
        check(p.returncode == 0 and count == n, "ask count: stopped instances in us-east-1",
              f"want {n} got {p.stdout!r} {p.stderr}")

        # No region in the sentence: --region, else the profile's (us-east-1 in the sandbox's).
        def count_of(p):
            try:
                return json.loads(p.stdout).get("count")
            except ValueError:
                return None
        p = ask("how many stopped instances", "--output", "json")
        check(p.returncode == 0 and count_of(p) == n, "ask count: the profile's region",
              f"want {n} got {p.stdout!r} {p.stderr}")
        n_eu = sum(1 for i in instances("eu-west-1") if i["state"] == "stopped")
        p = ask("how many stopped instances", "--region", "eu-west-1", "--output", "json")
        check(p.returncode == 0 and count_of(p) == n_eu, "ask count: --region",
              f"want {n_eu} got {p.stdout!r} {p.stderr}")
        check("no region named; answering for eu-west-1" in p.stderr,
              "ask count: says which region it answered for", p.stderr)
        p = ask("how many stopped instances in eu-west-1 and us-east-1", "--output", "json")
        check(p.returncode == 0 and count_of(p) == n + n_eu, "ask count: two regions",
              f"want {n + n_eu} got {p.stdout!r} {p.stderr}")
        # A copy of the config whose profile says eu-west-1.
        with open(os.path.join(aws_dir, "config")) as f:
            cfg = f.read()
        head = f"[profile {profile}]\nregion = us-east-1"
        need(head in cfg, "the sandbox's config names the profile's region", cfg[:300])
        eu_cfg = os.path.join(tmp, "config-eu")
        with open(eu_cfg, "w") as f:
            f.write(cfg.replace(head, f"[profile {profile}]\nregion = eu-west-1"))
        p = ask("how many stopped instances", "--output", "json",
                env={"AWS_CONFIG_FILE": eu_cfg})
        check(p.returncode == 0 and count_of(p) == n_eu, "ask count: a profile region eu-west-1",
              f"want {n_eu} got {p.stdout!r} {p.stderr}")

        # A profile with role_arn: the management account's user assumes the
        # member's OrganizationAccountAccessRole, and the client answers with
        # the role's session (lib/aws's chain, as the CLI would).
        mgmt = next(a for a in state["accounts"] if a["is_management"])["id"]
        role_cfg = os.path.join(tmp, "config-role")
        role = f"arn:aws:iam::{acct}:role/OrganizationAccountAccessRole"
        with open(role_cfg, "w") as f:
            f.write(cfg + f"\n[profile member-admin]\nrole_arn = {role}\n"
                          f"source_profile = mgmt\nregion = eu-west-1\n")
        sbx.admin("DELETE", "/calls")
        r = subprocess.run([ESCHER, "--profile", "member-admin", "--endpoint-url", sbx.endpoint,
                            "--output", "json", "ask", "how many stopped instances"],
                           env=dict(base_env, AWS_CONFIG_FILE=role_cfg), capture_output=True,
                           text=True, timeout=60)
        check(r.returncode == 0 and count_of(r) == n_eu,
              "ask with a role_arn profile: the member's instances", f"want {n_eu} got "
              f"{r.stdout!r} {r.stderr}")
        calls = sbx.admin("GET", "/calls")["calls"]
        assumed = [c for c in calls if c["action"] == "AssumeRole"]
        described = [c for c in calls if c["action"] == "DescribeInstances"]
        check(len(assumed) == 1 and assumed[0]["principal_arn"].startswith(f"arn:aws:iam::{mgmt}:")
              and described and all((c["assumed_role_arn"] or "").startswith(role)
                                    for c in described),
              "role_arn profile: AssumeRole by the management account's user, then the listing "
              "as the member's role", json.dumps([(c["action"], c["principal_arn"],
                                                   c["assumed_role_arn"]) for c in calls])[:500])

        # Tags and types are filters too.
        p = ask("list dev instances in eu-west-1", "--output", "json")
        want_dev = sorted(i["id"] for i in instances("eu-west-1")
                          if {"Key": "env", "Value": "dev"} in i["tags"])
        got = sorted(i["id"] for i in json.loads(p.stdout or "[]")) if p.returncode == 0 else None
        check(got == want_dev, "ask list: tag filter (env=dev)",
              f"want {len(want_dev)} got {got and len(got)} {p.stderr}")
        p = ask("list t3.micro instances in eu-west-1", "--output", "json")
        want_t = sorted(i["id"] for i in instances("eu-west-1") if i["type"] == "t3.micro")
        got = sorted(i["id"] for i in json.loads(p.stdout or "[]")) if p.returncode == 0 else None
        check(got == want_t, "ask list: type filter", f"want {len(want_t)} got {got and len(got)}")

        # 3. A mutating sentence without a terminal and without --yes: the
        # preview, then nothing runs (exit 2); reads only.
        sbx.admin("DELETE", "/calls")
        before = sorted((i["id"], i["state"]) for i in instances("us-east-1"))
        p = ask("stop all dev instances")
        check(p.returncode == 2, "ask stop: exit 2", f"{p.returncode} {p.stderr}")
        check("Plan: ec2.stop" in p.stdout and "no terminal to confirm on" in p.stdout,
              "ask stop: shows the preview and says nothing ran without a terminal",
              p.stdout[-600:])
        calls = sbx.admin("GET", "/calls")["calls"]
        check(calls and all(c["action"] in ("DescribeInstances", "GetCallerIdentity")
                            for c in calls),
              "ask stop: reads only (no StopInstances)",
              json.dumps(sorted({c["action"] for c in calls})))
        after_state = sbx.admin("GET", "/state")
        after_member = next(a for a in after_state["accounts"] if a["id"] == acct)
        after = sorted((i["id"], i["state"]) for r in after_member["regions"]
                       if r["name"] == "us-east-1" for i in r["instances"])
        check(before == after, "ask stop: instance states unchanged")
        p = ask("what's my biggest cost driver this month")
        check(p.returncode == 2 and "does not offer it yet" in p.stdout,
              "ask server question: exit 2, honest", p.stdout + p.stderr)
        p = ask("stop everything")
        check(p.returncode == 2 and "Not understood" in p.stdout,
              "ask clarify: exit 2, says what it did not understand", p.stdout + p.stderr)

        # "All regions": every region EC2 DescribeRegions names, summed.
        sbx.admin("DELETE", "/calls")
        p = ask("how many instances are there in all regions", "--output", "json")
        world_now = sbx.admin("GET", "/state")
        mine = next(a for a in world_now["accounts"] if a["id"] == acct)
        want_all = sum(len(r["instances"]) for r in mine["regions"])
        try:
            got_all = json.loads(p.stdout).get("count")
        except ValueError:
            got_all = None
        check(p.returncode == 0 and got_all == want_all and "no region named" not in p.stderr,
              "ask 'all regions': the count over every region", f"want {want_all} got {got_all}")
        calls = sbx.admin("GET", "/calls")["calls"]
        check(any(c["action"] == "DescribeRegions" for c in calls) and
              {c["region"] for c in calls if c["action"] == "DescribeInstances"} ==
              {r["name"] for r in mine["regions"]},
              "ask 'all regions': DescribeRegions, then DescribeInstances in each",
              json.dumps(sorted({(c["action"], c["region"]) for c in calls})))

        # 4. A server that is up: asked only GET /healthz, never the sentence nor credentials.
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            url = f"http://127.0.0.1:{srv.server_address[1]}"
            p = ask("list running instances in eu-west-1",
                    env={"ESCHER_URL": url, "ESCHER_TOKEN": "esk_test"})
            check(p.returncode == 0 and "unreachable" not in p.stderr,
                  "ask with a server up: answers, no unreachable line", p.stderr)
        finally:
            srv.shutdown()
            srv.server_close()
        # The stand-in has no /v1/chat (404): the sentence and the non-secret
        # context were offered, nothing else.
        seen = Recorder.seen
        check([(s["method"], s["path"]) for s in seen] == [("POST", "/v1/chat")],
              "server up: only POST /v1/chat was sent", json.dumps(seen)[:400])
        body = json.loads(seen[0].get("body") or "{}") if seen else {}
        check(set(body) == {"message", "context"} and
              set(body.get("context", {})) <= {"default_region", "time_zone", "account_ids",
                                               "recent_resource_ids", "recent_regions"},
              "server up: the body is the message and the non-secret context", json.dumps(body))
        text = json.dumps(seen)
        check(not any(s in text for s in secrets) and "X-Amz" not in text
              and "AWS4-HMAC" not in text, "server up: no credential material sent")
        check("offers no chat; answering locally" in p.stderr,
              "server without chat: says so and answers locally", p.stderr)
        # 5. Paging: a region with more instances than one page (1000) holds.
        world = sbx.admin("GET", "/state")
        big = next(a for a in world["accounts"] if a["id"] == acct)
        reg = next(r for r in big["regions"] if r["name"] == "eu-west-1")
        proto = dict(next(i for i in reg["instances"] if i["state"] == "running"))
        for n in range(1200):
            extra = dict(proto)
            extra["id"] = f"i-{0xa000000000000000 + n:017x}"[:19]
            extra["tags"] = [{"Key": "Name", "Value": f"bulk-{n}"}]
            reg["instances"].append(extra)
        world_file = os.path.join(tmp, "big-world.json")
        with open(world_file, "w") as f:
            json.dump(world, f)
        want_n = sum(1 for i in reg["instances"] if i["state"] == "running")
    finally:
        sbx.proc.stop()
    big_dir = os.path.join(tmp, "aws-big")
    sbx2 = e2elib.start_sandbox(SANDBOX, tmp, "sandbox-big",
                                ["--world", world_file, "--aws-config", big_dir])
    try:
        base_env["AWS_CONFIG_FILE"] = os.path.join(big_dir, "config")
        base_env["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(big_dir, "credentials")
        p = subprocess.run([ESCHER, "--profile", profile, "--endpoint-url", sbx2.endpoint,
                            "--output", "json", "ask", "how many running instances in eu-west-1"],
                           env=base_env, capture_output=True, text=True, timeout=60)
        try:
            count = json.loads(p.stdout).get("count")
        except ValueError:
            count = None
        check(p.returncode == 0 and count == want_n,
              "ask count over several pages", f"want {want_n} got {p.stdout!r} {p.stderr}")
        calls = sbx2.admin("GET", "/calls")["calls"]
        pages = [c for c in calls if c["action"] == "DescribeInstances"]
        check(len(pages) >= 2 and "NextToken" in pages[-1]["params"],
              "paging: later pages sent the NextToken", json.dumps([c["params"] for c in pages])[:400])
    finally:
        sbx2.proc.stop()
    return e2elib.report()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except e2elib.Stop:
        sys.exit(e2elib.report())
