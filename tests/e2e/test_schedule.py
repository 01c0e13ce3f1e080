#!/usr/bin/python3
"""End to end, issue 5's acceptance test: a schedule made through escher-api
fires with no client running, and workers stop the dev instances of three
member accounts in two regions, and nothing else.

The real programs run together on a private database of $ESCHER_TEST_PG_URL:
escher-sandbox (an organization of a management account and 4 members in
us-east-1, eu-west-1 and us-west-2, every region of every account holding
running and stopped instances tagged env=dev and env=prod; the customer roles
trust tenant A's ExternalId), escher-api and two escher-workers (both with a
master key, for the channel's secret) and escher-scheduler. Then, as a client
would, through the HTTP API only: tenant A registers three of the members
(POST /v1/accounts, verified by the workers), makes a signed webhook channel
pointing at a receiver this test runs, and makes a schedule "stop env=dev
instances in all accounts, us-east-1 and eu-west-1" as a one-off run_at a few
seconds ahead (the real clock: the scheduler reads PostgreSQL's now(); the
sandbox clock only drives instance states and session expiry).

Then the client is gone: the test sends nothing to escher-api until the
webhook receiver has the run's summary (escher-api's own request log shows
that no request came in between). Checked afterwards:
  - the scheduler made exactly one ops.run job for the fire (schedule_fires
    and jobs counted in the database; GET /v1/jobs agrees), key
    schedule:<id>:<fire time>, payload the schedule's, author its creator;
  - the sandbox call log: the run's AssumeRoles are the hub's, one role each
    of the three members' EscherOperator, with the tenant's ExternalId and a
    session policy of exactly ec2.stop's actions as the catalog declares them
    (`escher-worker operations`); every EC2 call of the run went through those
    sessions, to the two regions only; one StopInstances per running dev
    instance of the three members in the two regions;
  - GET /state before and after: every such instance ends stopped; every
    other instance (prod, us-west-2, the fourth member, the management
    account; and dev instances already stopped or terminated) is as it was;
  - GET /v1/jobs/{id}: succeeded, a done step per stopped instance, a result
    entry per env=dev instance (account, region, id, before, after, outcome);
  - GET /v1/audit: the schedule's creation by the manager, a job.step row per
    step of the run, the chain intact;
  - the receiver got one POST whose X-Escher-Signature is HMAC-SHA256 of
    timestamp "." body under the channel's key (docs/notifications.md), event
    and run state succeeded, the run's counts and resources.

Usage: test_schedule.py ESCHER_API ESCHER_WORKER ESCHER_SANDBOX ESCHER_SCHEDULER
Standard library only; exit 77 (skipped) without ESCHER_TEST_PG_URL.
"""
import calendar
import hashlib
import hmac
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import (PG, Proc, Stack, check, clean_env, instances, need, phase,  # noqa: E402
                    psql, run, with_user)

MASTER_KEY = os.urandom(32).hex()
HMAC_KEY = "e2e-hmac-" + os.urandom(12).hex()
REGIONS = ["us-east-1", "eu-west-1"]  # the schedule's
OTHER_REGION = "us-west-2"  # in the world and in the accounts' regions, not in the schedule's
LEAD_S = 5  # the fire is this far ahead of the schedule's creation
WAIT_S = 45  # longest wait for the run's notification after the fire


class Receiver:
    """The customer's webhook endpoint: records every POST, answers 200."""

    def __init__(self):
        self.requests = []
        self.got = threading.Event()
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                rec.requests.append((self.path, dict(self.headers), body, time.time()))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                rec.got.set()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/escher"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def epoch(iso):
    return calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))


def policy_actions(text):
    """The Allow actions of a one-statement session policy on "*", else None."""
    stmts = (json.loads(text) if text else {}).get("Statement") or []
    if len(stmts) != 1 or stmts[0].get("Effect") != "Allow" or stmts[0].get("Resource") != "*":
        return None
    a = stmts[0].get("Action")
    return sorted([a] if isinstance(a, str) else a or [])


class ScheduleE2E(Stack):
    def __init__(self, api_bin, worker_bin, sandbox_bin, scheduler_bin):
        super().__init__("e2es", api_bin, worker_bin, sandbox_bin)
        self.scheduler_bin = scheduler_bin

    # ---- setup ----

    def setup(self):
        phase("database, migrate, bootstrap")
        self.create_db()
        self.a = self.bootstrap("A")

        phase("escher-sandbox: 4 members, 3 regions, env=dev and env=prod everywhere")
        state = self.start_world_sandbox(["--accounts", "4", "--regions",
                                          ",".join(REGIONS + [OTHER_REGION]), "--seed", "5",
                                          "--external-id", self.a.external_id])
        self.hub_arn = state["hub"]["users"][0]["arn"]
        self.mgmt = next(a["id"] for a in state["accounts"] if a["is_management"])
        members = sorted(a["id"] for a in state["accounts"] if not a["is_management"])
        need(len(members) == 4 and state["external_id"] == self.a.external_id,
             "the sandbox: a management account and 4 members; roles trust tenant A's ExternalId",
             f"{members} {state['external_id']}")
        self.members, self.outsider = members[:3], members[3]
        self.before = instances(state)
        holes = []
        for acct in members + [self.mgmt]:
            for region in REGIONS + [OTHER_REGION]:
                for env in ("dev", "prod"):
                    if not any(v == (acct, region, env, "running") for v in self.before.values()):
                        holes.append(f"{acct} {region} env={env}")
        need(not holes, "every account and region has running env=dev and env=prod instances",
             ", ".join(holes))
        moving = [(i, v[3]) for i, v in self.before.items()
                  if v[3] not in ("running", "stopped", "terminated")]
        need(not moving, "no instance is between states (a region's next call would settle it)",
             str(moving[:5]))
        self.targeted = sorted(i for i, (acct, region, env, st) in self.before.items()
                               if acct in self.members and region in REGIONS and env == "dev"
                               and st in ("running", "pending"))
        self.dev_in_scope = sorted(i for i, (acct, region, env, _) in self.before.items()
                                   if acct in self.members and region in REGIONS and env == "dev")
        print(f"  {len(self.before)} instances; {len(self.targeted)} running env=dev in the 3 members"
              f" x {REGIONS} ({len(self.dev_in_scope)} env=dev there in all)")

        phase("escher-api, two escher-workers, escher-scheduler")
        self.start_api("--master-key", MASTER_KEY)
        self.start_worker("--master-key", MASTER_KEY)
        self.start_worker("--master-key", MASTER_KEY)
        self.scheduler = Proc(
            "escher-scheduler",
            [self.scheduler_bin, "--database-url", with_user(self.db_url, self.worker_role),
             "--log-level", "debug"],
            os.path.join(self.tmp, "scheduler.log"), clean_env(["ESCHER_SCHEDULER_"]),
            "scheduler started")
        self.procs.append(self.scheduler)
        self.receiver = Receiver()

    # ---- the client ----

    def client(self):
        phase("the client: three accounts, a webhook channel, a schedule a few seconds ahead")
        tok = self.a.token
        doc = self.api.want(200, "GET", "/v1/onboarding", tok)
        need(doc["external_id"] == self.a.external_id and doc["escher_principal_arn"] == self.hub_arn,
             "GET /v1/onboarding: the ExternalId and principal the sandbox's roles trust")
        jobs = []
        for n, acct in enumerate(self.members):
            a = self.api.want(201, "POST", "/v1/accounts", tok, {
                "role_arn": f"arn:aws:iam::{acct}:role/EscherOperator",
                "readonly_role_arn": f"arn:aws:iam::{acct}:role/EscherReadOnly",
                "name": f"member {n + 1}", "regions": REGIONS + [OTHER_REGION]})
            jobs.append(a["verification_job"])
        done = self.api.wait_jobs(jobs, tok)
        accounts = self.api.all_items("/v1/accounts", tok)
        need(all(j["state"] == "succeeded" for j in done.values())
             and sorted(a["account_id"] for a in accounts) == self.members
             and all(a["status"] == "verified" for a in accounts),
             "POST /v1/accounts x3: the three members verified",
             str([(a["account_id"], a["status"], a["last_error"]) for a in accounts]))

        ch = self.api.want(201, "POST", "/v1/channels", tok, {
            "name": "ops webhook", "kind": "webhook", "url": self.receiver.url,
            "hmac_key": HMAC_KEY, "events": ["succeeded", "partial", "failed"]})
        self.channel = ch
        check(ch["secret_set"] and HMAC_KEY not in json.dumps(ch),
              "POST /v1/channels: a signed webhook; the answer does not show the key")

        self.calls_before = self.sb.admin("GET", "/calls?since=0&limit=100000")["calls"]
        run_at = int(time.time()) + LEAD_S
        self.run_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(run_at))
        self.target = {"accounts": "all", "regions": REGIONS,
                       "selector": {"tags": {"env": ["dev"]}}}
        body = {"name": "stop dev instances", "run_at": self.run_at, "time_zone": "Europe/Berlin",
                "operation": "ec2.stop", "params": {}, "target": self.target}
        s = self.api.want(201, "POST", "/v1/schedules", tok, body)
        self.created_at = time.time()
        self.schedule = s
        check(s["next_fire_at"] == self.run_at and s["enabled"] is True,
              "POST /v1/schedules: a one-off, next_fire_at = run_at",
              f"run_at {self.run_at}, next_fire_at {s['next_fire_at']}")
        print(f"  schedule {s['id']} fires at {self.run_at} "
              f"({run_at - self.created_at:.1f} s from now)")

    def offline(self):
        phase("no client: waiting for the fire and the run's notification")
        # Nothing is sent to escher-api from here until the receiver hears
        # from the worker.
        got = self.receiver.got.wait(LEAD_S + WAIT_S)
        self.notified_at = time.time()
        need(got, f"the webhook receiver got a POST within {LEAD_S + WAIT_S} s",
             "" if got else f"scheduler log:\n{self.scheduler.text()[-2000:]}")
        time.sleep(0.5)  # a duplicate delivery would show up by now
        fire = epoch(self.run_at)
        print(f"  notified {self.notified_at - fire:.2f} s after the fire time, "
              f"{self.notified_at - self.created_at:.2f} s after the schedule was made")
        # The API logs a request after answering it, so the schedule's POST
        # may be logged after the client saw the answer: count from that line.
        logged = [r for r in self.api_proc.lines() if r.get("msg") == "request"]
        post = [n for n, r in enumerate(logged)
                if r.get("method") == "POST" and r.get("path") == "/v1/schedules"]
        reqs = [r for r in logged[post[-1] + 1 if post else 0:]
                if r.get("ts", "") < self.api_ts(self.notified_at)]
        check(reqs == [] and len(post) == 1,
              f"escher-api served no request between the schedule's creation and the notification"
              f" (its request log: {len(logged)} requests, the last one POST /v1/schedules)",
              str(reqs[:3]))

    @staticmethod
    def api_ts(t):
        """An instant in the log's format ("2026-11-24T06:01:37.733Z")."""
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"

    # ---- what happened ----

    def fired_once(self):
        phase("exactly one job for the fire")
        sid = self.schedule["id"]
        fires = psql(self.db_url, f"SELECT to_char(fire_at AT TIME ZONE 'UTC', "
                                  f"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), job_id FROM schedule_fires "
                                  f"WHERE schedule_id = '{sid}'")
        check(len(fires) == 1 and fires[0][0] == self.run_at,
              "schedule_fires: one row, at run_at", str(fires))
        rows = psql(self.db_url, "SELECT id, idempotency_key, created_by, payload::text,"
                                 " extract(epoch FROM created_at)::float8 FROM jobs"
                                 " WHERE kind = 'ops.run'")
        need(len(rows) == 1, "jobs: exactly one ops.run", str(rows))
        job_id, key, by, payload, created = rows[0]
        self.job_id = job_id
        check(fires and fires[0][1] == job_id and key == f"schedule:{sid}:{self.run_at}",
              "the job is the fire's, key schedule:<id>:<fire time>", f"{key} {fires}")
        lag = float(created) - epoch(self.run_at)
        check(0 <= lag < 2.0, "the job was made within 2 s of the fire time", f"{lag:.3f} s")
        print(f"  job {job_id} made {lag * 1000:.0f} ms after {self.run_at}")
        p = json.loads(payload)
        check(by == self.a.email and p.get("schedule") == sid and p.get("operation") == "ec2.stop"
              and p.get("target") == self.target and p.get("dry_run") is False
              and p.get("params") == {},
              "the job carries the schedule's id, operation, target, dry_run and author",
              f"{by} {payload}")
        listed = self.api.all_items("/v1/jobs?kind=ops.run", self.a.token)
        check([j["id"] for j in listed] == [job_id], "GET /v1/jobs?kind=ops.run: that one job",
              str([j["id"] for j in listed]))
        s = self.api.want(200, "GET", f"/v1/schedules/{sid}", self.a.token)
        check(s["next_fire_at"] is None, "GET /v1/schedules/{id}: the one-off is done (no next fire)",
              str(s["next_fire_at"]))
        fired = [r for r in self.scheduler.lines() if r.get("msg") == "schedules fired"]
        check(sum(r.get("jobs", 0) for r in fired) == 1 and sum(r.get("missed", 0) for r in fired) == 0,
              "the scheduler logged one job, none missed", json.dumps(fired))
        if fired:
            print(f"  scheduler: {json.dumps({k: fired[0].get(k) for k in ('jobs', 'max_lag_ms')})}")

    def call_log(self):
        phase("the sandbox's call log: roles, ExternalId, session policy, calls")
        text = subprocess.run([self.worker_bin, "operations"], capture_output=True, text=True,
                              check=True).stdout
        row = next((line for line in text.splitlines() if line.startswith("| `ec2.stop` |")), "")
        want_actions = sorted(re.findall(r"`(ec2:\w+)`", row))
        need(want_actions, "the catalog declares ec2.stop's actions", row)
        calls = self.sb.admin("GET", "/calls?since=0&limit=100000")
        need(calls.get("dropped") == 0, "the call log dropped nothing", str(calls.get("dropped")))
        seen = {c["seq"] for c in self.calls_before}
        new = [c for c in calls["calls"] if c["seq"] not in seen]
        session = f"escher-{self.job_id}"
        assumes = [c for c in new if c["action"] == "AssumeRole"]
        bad = []
        for c in assumes:
            p = c["params"]
            if p.get("RoleSessionName") != session:
                bad.append(f"seq {c['seq']}: session {p.get('RoleSessionName')}")
            if c["principal_arn"] != self.hub_arn or c["status"] != 200:
                bad.append(f"seq {c['seq']}: caller {c['principal_arn']} -> {c['status']}")
            if p.get("ExternalId") != self.a.external_id:
                bad.append(f"seq {c['seq']}: ExternalId {p.get('ExternalId')!r}")
            if policy_actions(p.get("Policy")) != want_actions:
                bad.append(f"seq {c['seq']}: policy {p.get('Policy')}")
            if p.get("SourceIdentity") != self.a.email:
                bad.append(f"seq {c['seq']}: SourceIdentity {p.get('SourceIdentity')!r}")
        roles = sorted({c["params"].get("RoleArn") for c in assumes})
        want_roles = [f"arn:aws:iam::{a}:role/EscherOperator" for a in self.members]
        check(roles == want_roles,
              "the run assumed EscherOperator in each of the three members, and no other role",
              f"{roles}")
        check(assumes and not bad,
              f"{len(assumes)} AssumeRole: the hub's, session escher-<job>, the tenant's ExternalId, "
              f"SourceIdentity the schedule's author, policy exactly {want_actions}",
              "\n".join(bad[:10]))
        if assumes:
            p = assumes[0]["params"]
            print("  e.g. " + json.dumps({k: p.get(k) for k in ("RoleArn", "RoleSessionName",
                                                                 "ExternalId", "Policy")}))
        others = [c for c in new if c["action"] != "AssumeRole" and c["service"] != "sts"]
        stray = [f"seq {c['seq']} {c['service']}:{c['action']} {c['account']} {c['region']} "
                 f"{c.get('session_name')}" for c in others
                 if c.get("session_name") != session or c["account"] not in self.members
                 or c["region"] not in REGIONS or c["service"] != "ec2"
                 or c["action"] not in [a.split(":")[1] for a in want_actions]]
        check(others and not stray,
              f"{len(others)} EC2 calls, each through a session of the run, in a member, in "
              f"{REGIONS}, an action of the policy", "\n".join(stray[:10]))
        stops = [c for c in others if c["action"] == "StopInstances"]
        ids = sorted(v for c in stops for k, v in c["params"].items() if k.startswith("InstanceId."))
        check(ids == self.targeted and all(c["status"] == 200 for c in stops),
              f"one StopInstances per running env=dev instance in scope ({len(self.targeted)}), "
              f"each answered 200", f"stopped {len(ids)}: extra {sorted(set(ids) - set(self.targeted))}"
              f", missing {sorted(set(self.targeted) - set(ids))}")

    def describe(self):
        """{instance id: state} of every member's instances in REGIONS, as
        Debian's aws CLI reads them (DescribeInstances as each account's own
        profile, all at once)."""
        env = clean_env(["AWS_"], {
            "AWS_CONFIG_FILE": os.path.join(self.aws_dir, "config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.aws_dir, "credentials"),
            "AWS_MAX_ATTEMPTS": "1", "AWS_PAGER": "", "AWS_EC2_METADATA_DISABLED": "true"})
        procs = [subprocess.Popen(["/usr/bin/aws", "--profile", f"acct-{acct}", "--endpoint-url",
                                   self.sb.endpoint, "--region", region, "--output", "json",
                                   "ec2", "describe-instances", "--query",
                                   "Reservations[].Instances[].[InstanceId, State.Name]"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                 for acct in self.members for region in REGIONS]
        out = {}
        for p in procs:
            o, e = p.communicate(timeout=60)
            if p.returncode != 0:
                need(False, "aws ec2 describe-instances", e[-1000:])
            out.update(dict(json.loads(o)))
        return out

    def world(self):
        phase("the world after: DescribeInstances (aws CLI) and GET /state")
        # The sandbox moves stopping -> stopped --state-delay (2 s) after the
        # stop, when the region is next called (GET /state does not settle).
        stops = [c["time"] for c in self.sb.admin("GET", "/calls?since=0&limit=100000")["calls"]
                 if c["action"] == "StopInstances"]
        last = max((epoch(t[:19] + "Z") + 1 for t in stops), default=0)
        time.sleep(max(0.0, last + 2.1 - time.time()))
        for _ in range(10):
            seen = self.describe()
            if all(seen.get(i) != "stopping" for i in self.targeted):
                break
            time.sleep(0.5)
        not_stopped = [(i, self.before[i][:2], seen.get(i)) for i in self.targeted
                       if seen.get(i) != "stopped"]
        check(not not_stopped, f"DescribeInstances: every running env=dev instance of the 3 "
                               f"members in {REGIONS} is stopped ({len(self.targeted)})",
              str(not_stopped[:5]))
        after = instances(self.sb.admin("GET", "/state"))
        self.after = after
        changed = [(i, self.before[i][3], after.get(i, (0, 0, 0, None))[3])
                   for i in self.before if i not in self.targeted
                   and after.get(i, (0, 0, 0, None))[3] != self.before[i][3]]
        kinds = {}
        for i, (acct, region, env, _) in self.before.items():
            if i in self.targeted:
                continue
            what = ("management" if acct == self.mgmt else "4th member" if acct == self.outsider
                    else OTHER_REGION if region == OTHER_REGION else f"env={env}")
            kinds[what] = kinds.get(what, 0) + 1
        check(not changed and set(after) == set(self.before),
              f"every other instance is as it was ({len(self.before) - len(self.targeted)}: "
              f"{json.dumps(kinds, sort_keys=True)})", str(changed[:10]))

    def the_run(self):
        phase("the run: GET /v1/jobs/{id}")
        j = self.api.want(200, "GET", f"/v1/jobs/{self.job_id}", self.a.token)
        self.job = j
        r = j.get("result") or {}
        check(j["state"] == "succeeded" and j["kind"] == "ops.run" and r.get("state") == "succeeded"
              and j["attempts"] == 1 and j["created_by"] == self.a.email,
              "the run succeeded at its first attempt, by the schedule's author",
              f"{j['state']} attempts {j['attempts']} {j['last_error']}")
        res = r.get("resources") or []
        by_id = {x.get("id"): x for x in res}
        check(sorted(by_id) == self.dev_in_scope and len(res) == len(by_id),
              f"a result entry per env=dev instance in scope ({len(self.dev_in_scope)})",
              f"{len(res)} entries")
        bad = []
        for i in self.dev_in_scope:
            x = by_id.get(i, {})
            acct, region, _, st = self.before[i]
            if x.get("account") != acct or x.get("region") != region or x.get("before") != st:
                bad.append(f"{i}: {x}")
            elif i in self.targeted and (x.get("outcome") in ("failed", "nothing to do")
                                         or not x.get("request_id")):
                bad.append(f"{i} (running): {x}")
            elif i not in self.targeted and x.get("outcome") != "nothing to do":
                bad.append(f"{i} ({st}): {x}")
        check(not bad, "each entry: its account, region, state before; the running ones acted on "
                       "with a request id, the others nothing to do", "\n".join(bad[:5]))
        steps = j["steps"]
        # A step per resource: it is begun before the re-check of the
        # instance's state, which decides whether there is anything to send.
        names = sorted(s["name"] for s in steps)
        want = sorted(f"ec2.stop:{self.before[i][0]}:{self.before[i][1]}:{i}"
                      for i in self.dev_in_scope)
        acted = [s for s in steps if s["name"].rsplit(":", 1)[1] in self.targeted
                 and (s["detail"] or {}).get("request_id")]
        check(names == want and all(s["state"] == "done" and s["started_at"] and s["finished_at"]
                                    for s in steps) and len(acted) == len(self.targeted),
              f"GET /v1/jobs/{{id}}: a done step ec2.stop:<account>:<region>:<instance> per "
              f"resource ({len(steps)}), the {len(self.targeted)} stopped ones with the request id",
              str([(s["name"], s["state"], s["detail"]) for s in steps][:3]))
        # What the run did per account and region, and a few of its entries.
        per = {}
        for x in res:
            k = (x["account"], x["region"])
            per.setdefault(k, {})
            per[k][x["outcome"]] = per[k].get(x["outcome"], 0) + 1
        for (acct, region), n in sorted(per.items()):
            print(f"  {acct}  {region:9}  {json.dumps(n, sort_keys=True)}")
        shown = sorted(res, key=lambda x: (x["outcome"] == "done", x["id"]))[:4]
        for x in shown:
            ba = f"{x.get('before')} -> {x.get('after') or x.get('before')}"
            print(f"  e.g. {x['account']}  {x['region']:9}  {x['id']:19}  {ba:22}  {x['outcome']}"
                  + (f" ({x['reason']})" if x.get("reason") else ""))

    def audit(self):
        phase("the audit log: GET /v1/audit")
        rows = self.api.all_items("/v1/audit", self.a.token)
        sid = self.schedule["id"]
        creates = [r for r in rows if r["action"] == "schedules.create"]
        check(len(creates) == 1 and creates[0]["actor"] == self.a.email
              and sid in creates[0]["target"]
              and (creates[0]["detail"] or {}).get("operation") == "ec2.stop",
              "one schedules.create row: the manager, the schedule, its operation",
              json.dumps(creates)[:600])
        steps = [r for r in rows if r["action"] == "job.step" and r["target"] == f"job:{self.job_id}"]
        check(len(steps) == len(self.job["steps"]) and all(r["actor"].startswith("worker:")
                                                          for r in steps),
              f"a job.step row (actor worker:...) per step of the run ({len(steps)})",
              f"{len(steps)} rows, {len(self.job['steps'])} steps")
        check(any(r["action"] == "channels.create" for r in rows), "the channel's creation is audited")
        v = self.api.want(200, "GET", "/v1/audit/verify", self.a.token)
        check(v.get("intact") is True and v.get("rows_checked") == len(rows),
              "GET /v1/audit/verify: intact", json.dumps(v))

    def webhook(self):
        phase("the webhook: summary and signature")
        got = self.receiver.requests
        check(len(got) == 1, "the receiver got exactly one delivery", str(len(got)))
        if not got:
            return
        path, h, body, at = got[0]
        ts = h.get("X-Escher-Timestamp", "")
        want = "sha256=" + hmac.new(HMAC_KEY.encode(), ts.encode() + b"." + body,
                                    hashlib.sha256).hexdigest()
        good = hmac.compare_digest(h.get("X-Escher-Signature", ""), want)
        check(good, "X-Escher-Signature = sha256=HMAC-SHA256(key, timestamp.body)",
              "" if good else f"{h.get('X-Escher-Signature')} != {want}")
        check(ts.isdigit() and abs(int(ts) - at) <= 300, "X-Escher-Timestamp is now", ts)
        doc = json.loads(body)
        run_ = doc.get("run") or {}
        counts = run_.get("counts") or {}
        check(doc.get("event") == "succeeded" and h.get("X-Escher-Event") == "succeeded"
              and run_.get("state") == "succeeded" and run_.get("job") == self.job_id
              and run_.get("schedule") == self.schedule["id"] and run_.get("operation") == "ec2.stop"
              and run_.get("dry_run") is False and doc.get("channel", {}).get("id") == self.channel["id"]
              and h.get("X-Escher-Delivery") == doc.get("delivery"),
              "the summary: event and state succeeded, the run, its schedule, operation, channel",
              body.decode()[:600])
        check(counts.get("resources") == len(self.dev_in_scope)
              and run_.get("resources_total") == len(self.dev_in_scope)
              and len(run_.get("resources") or []) == min(50, len(self.dev_in_scope)),
              "the summary counts the run's resources and lists them (first 50)", json.dumps(counts))
        print(f"  {h.get('X-Escher-Signature')[:24]}... counts {json.dumps(counts)}")


def main():
    if len(sys.argv) != 5:
        raise SystemExit(f"usage: {sys.argv[0]} ESCHER_API ESCHER_WORKER ESCHER_SANDBOX ESCHER_SCHEDULER")
    if not PG:
        print("SKIP: ESCHER_TEST_PG_URL is not set (tests/run.sh sets it when it starts PostgreSQL)")
        return 77
    t = ScheduleE2E(*sys.argv[1:5])
    return run(t, [t.setup, t.client, t.offline, t.fired_once, t.call_log, t.world, t.the_run,
                   t.audit, t.webhook])


if __name__ == "__main__":
    sys.exit(main())
