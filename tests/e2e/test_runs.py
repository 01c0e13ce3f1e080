#!/usr/bin/python3
"""End to end: a dry run through POST /v1/runs (issue 5 item 6) plans the
operation per account, region and resource and changes nothing.

escher-sandbox (a management account and 3 members in us-east-1 and
eu-west-1, running and stopped instances tagged env=dev and env=prod
everywhere, roles trusting tenant A's ExternalId), escher-api and one
escher-worker run on a private database of $ESCHER_TEST_PG_URL. Through the
HTTP API only, tenant A registers two members (verified by the worker) and
makes an executor; the executor asks POST /v1/runs for ec2.stop on env=dev
in all accounts and regions as a dry run, and an ec2.resize dry run (risk
high: an executor may dry-run it, not run it). Checked:
  - both jobs succeed; their results say dry_run, and list one entry per
    env=dev instance of the two members: "would stop" for each running one
    ("would resize ..." for the resize), nothing to do for the others, each
    with its account, region and state before;
  - no step is recorded (a dry run records none) and GET /state is exactly
    as before: every instance in the state it had;
  - the sandbox's call log: every StopInstances, ModifyInstanceAttribute
    and StartInstances of the runs carried DryRun=true.

Usage: test_runs.py ESCHER_API ESCHER_WORKER ESCHER_SANDBOX
Standard library only; exit 77 (skipped) without ESCHER_TEST_PG_URL.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import (PG, Stack, check, instances, need, phase, run)  # noqa: E402

REGIONS = ["us-east-1", "eu-west-1"]
DEV = {"accounts": "all", "regions": "all", "selector": {"tags": {"env": ["dev"]}}}
MUTATING = ("StopInstances", "StartInstances", "ModifyInstanceAttribute")


class RunsE2E(Stack):
    def __init__(self, api_bin, worker_bin, sandbox_bin):
        super().__init__("e2er", api_bin, worker_bin, sandbox_bin)

    def setup(self):
        phase("database, migrate, bootstrap")
        self.create_db()
        self.a = self.bootstrap("A")

        phase("escher-sandbox: 3 members, 2 regions, env=dev and env=prod")
        state = self.start_world_sandbox(["--accounts", "3", "--regions", ",".join(REGIONS),
                                          "--seed", "7", "--external-id", self.a.external_id])
        self.hub_arn = state["hub"]["users"][0]["arn"]
        self.members = sorted(a["id"] for a in state["accounts"] if not a["is_management"])[:2]
        self.before = instances(state)
        moving = [i for i, v in self.before.items() if v[3] not in ("running", "stopped", "terminated")]
        need(not moving, "no instance is between states", str(moving[:5]))
        self.dev = sorted(i for i, (acct, _, env, _) in self.before.items()
                          if acct in self.members and env == "dev")
        self.running = sorted(i for i in self.dev if self.before[i][3] == "running")
        need(self.running and len(self.running) < len(self.dev),
             "the two members hold running and stopped env=dev instances",
             f"{len(self.running)} running of {len(self.dev)}")
        print(f"  {len(self.before)} instances; {len(self.dev)} env=dev in the two members,"
              f" {len(self.running)} running")

        phase("escher-api and escher-worker")
        self.start_api()
        self.start_worker()

    def client(self):
        phase("the client: two accounts, an executor")
        tok = self.a.token
        jobs = []
        for acct in self.members:
            a = self.api.want(201, "POST", "/v1/accounts", tok, {
                "role_arn": f"arn:aws:iam::{acct}:role/EscherOperator", "regions": REGIONS})
            jobs.append(a["verification_job"])
        done = self.api.wait_jobs(jobs, tok)
        need(all(j["state"] == "succeeded" for j in done.values()), "the two members verified",
             json.dumps(done)[:1000])
        u = self.api.want(201, "POST", "/v1/users", tok, {"email": "exec@a.example", "role": "executor"})
        t = self.api.want(201, "POST", "/v1/tokens", tok, {"user_id": u["id"], "name": "e2e"})
        self.exec_token = t["token"]
        self.api_tokens.append(t["token"])
        self.calls_before = {c["seq"] for c in
                             self.sb.admin("GET", "/calls?since=0&limit=100000")["calls"]}

    def dry_runs(self):
        phase("POST /v1/runs dry runs as the executor")
        st, doc = self.api.call("POST", "/v1/runs", self.exec_token,
                                {"operation": "ec2.resize", "params": {"instance_type": "m5.large"},
                                 "target": DEV})
        check(st == 403 and "high" in json.dumps(doc),
              "the executor's real ec2.resize is refused (403, risk high)", f"{st} {doc}")
        stop = self.api.want(202, "POST", "/v1/runs", self.exec_token,
                             {"operation": "ec2.stop", "target": DEV, "dry_run": True})["job"]
        resize = self.api.want(202, "POST", "/v1/runs", self.exec_token,
                               {"operation": "ec2.resize", "params": {"instance_type": "m5.large"},
                                "target": DEV, "dry_run": True})["job"]
        self.jobs = self.api.wait_jobs([stop, resize], self.a.token, timeout=60)
        self.stop_job, self.resize_job = self.jobs[stop], self.jobs[resize]

    def results(self):
        phase("the plans: GET /v1/jobs/{id}")
        for j, verb in ((self.stop_job, "would stop"), (self.resize_job, "would resize from")):
            r = j.get("result") or {}
            op = r.get("operation")
            check(j["state"] == "succeeded" and r.get("dry_run") is True
                  and r.get("state") == "succeeded" and j["created_by"] == "exec@a.example",
                  f"{op}: the dry run succeeded, result dry_run true, by the executor",
                  f"{j['state']} {j['last_error']} {json.dumps(r)[:400]}")
            res = r.get("resources") or []
            by_id = {x.get("id"): x for x in res}
            check(sorted(by_id) == self.dev and len(res) == len(self.dev),
                  f"{op}: one entry per env=dev instance of the two members ({len(self.dev)})",
                  f"{sorted(by_id)} vs {self.dev}")
            bad = []
            for i in self.dev:
                x = by_id.get(i, {})
                acct, region, _, st = self.before[i]
                if x.get("account") != acct or x.get("region") != region or x.get("before") != st:
                    bad.append(f"{i}: {x}")
                elif x.get("outcome") in ("failed", "would fail"):
                    bad.append(f"{i}: {x}")
                elif i in self.running and x.get("outcome") == "planned":
                    if verb not in str(x.get("action", "")):
                        bad.append(f"{i} (running): {x}")
                elif i in self.running and not (op == "ec2.resize"
                                                and x.get("reason") == "already of that type"):
                    bad.append(f"{i} (running, not planned): {x}")
                elif i not in self.running and op == "ec2.stop" and x.get("outcome") != "nothing to do":
                    bad.append(f"{i} ({st}): {x}")
            planned = sum(1 for x in res if x.get("outcome") == "planned")
            check(not bad and planned > 0,
                  f"{op}: each entry has its account, region and state; {planned} planned"
                  f" '{verb}...' (outcome planned), none failed", "\n".join(bad[:5]))
            if op == "ec2.stop":
                check(planned == len(self.running),
                      "ec2.stop plans a stop for every running env=dev instance, nothing for the rest",
                      f"{planned} planned, {len(self.running)} running")
            if res:
                print(f"  {op}: e.g. {json.dumps(next(x for x in res if x.get('outcome') == 'planned'))[:400]}")
            check(j["steps"] == [], f"{op}: no step recorded", json.dumps(j["steps"])[:300])

    def nothing_changed(self):
        phase("nothing changed: GET /state and the call log")
        after = instances(self.sb.admin("GET", "/state"))
        changed = {i: (self.before[i], after.get(i)) for i in self.before if after.get(i) != self.before[i]}
        check(not changed, f"every one of the {len(self.before)} instances is as it was",
              str(list(changed.items())[:5]))
        calls = self.sb.admin("GET", "/calls?since=0&limit=100000")
        new = [c for c in calls["calls"] if c["seq"] not in self.calls_before]
        muts = [c for c in new if c["action"] in MUTATING]
        wet = [f"seq {c['seq']} {c['action']} {c['params']}" for c in muts
               if str(c["params"].get("DryRun", "")).lower() != "true"]
        check(muts and not wet, f"{len(muts)} mutating EC2 calls, every one with DryRun=true",
              "\n".join(wet[:5]))
        seen = sorted({c["action"] for c in muts})
        print(f"  mutating actions sent as dry runs: {seen}")


def main():
    if len(sys.argv) != 4:
        raise SystemExit(f"usage: {sys.argv[0]} ESCHER_API ESCHER_WORKER ESCHER_SANDBOX")
    if not PG:
        print("SKIP: ESCHER_TEST_PG_URL is not set (tests/run.sh sets it when it starts PostgreSQL)")
        return 77
    t = RunsE2E(*sys.argv[1:4])
    return run(t, [t.setup, t.client, t.dry_runs, t.results, t.nothing_changed])


if __name__ == "__main__":
    sys.exit(main())
