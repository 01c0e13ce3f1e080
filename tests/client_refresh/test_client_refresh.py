"""`escher refresh` and `escher estate list` against escher-sandbox (issue 6
item 2): the local estate cache equals the sandbox's GET /state instances of
the profile's account and region; a stopped instance is seen stopped after
the next refresh. Standard library and the Debian aws CLI.

usage: test_client_refresh.py ESCHER ESCHER_SANDBOX
"""
import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import e2elib  # noqa: E402
from e2elib import check, need  # noqa: E402

ESCHER, SANDBOX = sys.argv[1], sys.argv[2]


def main():
    tmp = tempfile.mkdtemp(prefix="escher-refresh-")
    aws_dir = os.path.join(tmp, "aws")
    sbx = e2elib.start_sandbox(SANDBOX, tmp, "sandbox",
                               ["--accounts", "2", "--regions", "us-east-1,eu-west-1",
                                "--seed", "11", "--external-id", "refresh-test-01",
                                "--aws-config", aws_dir])
    try:
        state = sbx.admin("GET", "/state")
        member = next(a for a in state["accounts"] if not a["is_management"])
        acct = member["id"]
        profile = f"acct-{acct}"
        home = os.path.join(tmp, "home")
        os.makedirs(home)
        env = e2elib.client_env(home, aws_dir)

        def run(*args):
            p = subprocess.run([ESCHER, "--profile", profile, "--endpoint-url", sbx.endpoint,
                                *args], env=env, capture_output=True, text=True, timeout=60)
            check(not e2elib.SANITIZER_RE.search(p.stderr), f"no sanitizer report: {args}",
                  p.stderr[-2000:])
            return p

        def want(region):
            st = sbx.admin("GET", "/state")
            m = next(a for a in st["accounts"] if a["id"] == acct)
            reg = next(r for r in m["regions"] if r["name"] == region)
            return {i["id"]: i["state"] for i in reg["instances"]}

        def cached(*args):
            p = run("estate", "list", "--output", "json", *args)
            check(p.returncode == 0, "estate list json: exit 0", p.stderr)
            try:
                return json.loads(p.stdout)
            except ValueError:
                return []

        # 1. The profile's region (us-east-1 in the sandbox's config).
        p = run("refresh")
        w = want("us-east-1")
        need(w, "the sandbox has instances in us-east-1")
        check(p.returncode == 0 and p.stdout.startswith(f"refreshed {len(w)} instances in "
                                                        "us-east-1 (fetched at 20"),
              "refresh: the line with count, region and time", p.stdout + p.stderr)
        rows = cached()
        got = {r["id"]: r["state"] for r in rows}
        check(got == w, "cache equals GET /state for the account and region",
              f"want {len(w)} got {len(got)}")
        check(all(r["account"] == acct and r["region"] == "us-east-1" and r["type"] == "instance"
                  and r["fetched_at"].endswith("Z") and "type" in r["data"]
                  and "tags" in r["data"] and "launch_time" in r["data"] for r in rows),
              "cache rows: account, region, type, fetched_at, data", json.dumps(rows[:2]))

        # 2. Two regions given; estate list --region filters.
        p = run("refresh", "--region", "us-east-1", "--region", "eu-west-1")
        we = want("eu-west-1")
        check(p.returncode == 0 and len(p.stdout.splitlines()) == 2
              and f"refreshed {len(we)} instances in eu-west-1" in p.stdout,
              "refresh two regions: a line each", p.stdout + p.stderr)
        got_eu = {r["id"]: r["state"] for r in cached("--region", "eu-west-1")}
        check(got_eu == we, "estate list --region eu-west-1 equals GET /state", f"{len(got_eu)}")
        check(len(cached()) == len(w) + len(we), "estate list: both regions")

        # 3. Stop a running instance with the aws CLI; the next refresh sees it.
        victim = next(i for i, s in sorted(w.items()) if s == "running")
        a = subprocess.run(["/usr/bin/aws", "--profile", profile, "--endpoint-url",
                            sbx.endpoint, "--region", "us-east-1", "ec2", "stop-instances",
                            "--instance-ids", victim], env=env, capture_output=True, text=True,
                           timeout=60)
        need(a.returncode == 0, "aws ec2 stop-instances", a.stderr)
        before = {r["id"]: r["state"] for r in cached()}
        check(before[victim] == "running", "cache unchanged before refresh")
        # A row AWS no longer returns (as if terminated and gone) goes at refresh.
        db = sqlite3.connect(os.path.join(home, ".local", "share", "escher", "state.db"))
        with db:
            db.execute("INSERT INTO estate VALUES (?, 'us-east-1', 'instance', "
                       "'i-0000000000gone', 'gone', 'running', '{}', '2026-01-01T00:00:00Z')",
                       (acct,))
        db.close()
        p = run("refresh", "--region", "us-east-1")
        after = {r["id"]: r["state"] for r in cached("--region", "us-east-1")}
        w2 = want("us-east-1")
        check(p.returncode == 0 and after == w2 and after[victim] in ("stopping", "stopped"),
              "refresh after a stop: the state updates; a vanished row is removed",
              f"{after.get(victim)} {'i-0000000000gone' in after}")

        # 4. Output formats.
        p = run("estate", "list", "--region", "eu-west-1")
        lines = p.stdout.splitlines()
        check(p.returncode == 0 and lines and lines[0].split() ==
              ["account", "region", "type", "id", "name", "state", "fetched_at"]
              and all(i in p.stdout for i in we), "estate list table: header and ids",
              p.stdout[:300])
        p = run("estate", "list", "--output", "csv")
        rows = list(csv.reader(io.StringIO(p.stdout)))
        check(p.returncode == 0 and rows[0] == ["account", "region", "type", "id", "name",
                                                 "state", "fetched_at"]
              and len(rows) == 1 + len(w) + len(we), "estate list csv", p.stdout[:300])
        p = run("estate", "list", "--region", "ap-south-1", "--output", "json")
        check(p.returncode == 0 and json.loads(p.stdout or "null") == [],
              "estate list of an uncached region: empty", p.stdout)
    finally:
        sbx.proc.stop()
    return e2elib.report()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except e2elib.Stop:
        sys.exit(e2elib.report())
