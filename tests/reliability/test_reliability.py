"""Reliability of ops.run (issue 5's acceptance): a 300-instance ec2.stop across
10 member accounts, with escher-sandbox throttling 30% of EC2 calls.

  1. One run with one worker: the job completes, every targeted instance is
     stopped, nothing else changed.
  2. The same run on a fresh copy of the same world, with the worker killed
     (SIGKILL) three times at random moments of its progress and restarted
     each time (--lease 2s, so the dead worker's lease is reaped quickly):
     the job completes with every targeted instance stopped, no step recorded
     as done twice (job_steps and the audit log) and no instance stopped
     twice on the AWS side (the sandbox's call log: at most one successful
     StopInstances that changed the instance's state, and exactly one for
     each target).

The world: the sandbox generates 10 members in two regions; the test tags
exactly 300 of the members' live instances env=dev and makes them running,
spread over all 20 account x region pairs, and tags everything else env=prod.
The management account (not registered) gets env=dev instances too: they
must stay as they are. Accounts are registered and verified through
escher-api as a client would; the job is inserted as the scheduler would
enqueue it. Standard library only; skipped (77) without ESCHER_TEST_PG_URL.

  test_reliability.py ESCHER_API ESCHER_WORKER ESCHER_SANDBOX
"""
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from e2elib import PG, Stack, check, need, phase, psql, run, start_sandbox  # noqa: E402

MEMBERS = 10
REGIONS = ["us-east-1", "eu-west-1"]
TARGETS = 300
THROTTLE = 0.3
KILLS = 3
ATTEMPTS = 30  # each kill costs an attempt, and 30% throttling a few more
FAULTS = {"rules": [{"service": "ec2", "throttle_rate": THROTTLE}]}


def tag(inst, env):
    tags = [t for t in inst["tags"] if t["Key"] != "env"]
    tags.append({"Key": "env", "Value": env})
    inst["tags"] = tags


def env_of(inst):
    for t in inst["tags"]:
        if t["Key"] == "env":
            return t["Value"]
    return None


class Reliability(Stack):
    def __init__(self, api_bin, worker_bin, sandbox_bin):
        super().__init__("rel", api_bin, worker_bin, sandbox_bin)
        self.rng = random.Random(os.environ.get("ESCHER_RELIABILITY_SEED") or None)

    # ---- setup ----

    def setup(self):
        phase("database, migrate, bootstrap")
        self.create_db()
        self.t = self.bootstrap("A")

        phase(f"world: {MEMBERS} members x {len(REGIONS)} regions, {TARGETS} env=dev instances running")
        gen = start_sandbox(self.sandbox_bin, self.tmp, "sandbox-generate",
                            ["--accounts", str(MEMBERS), "--regions", ",".join(REGIONS),
                             "--seed", "5", "--external-id", self.t.external_id])
        world = gen.admin("GET", "/state")
        gen.proc.stop()
        members = [a for a in world["accounts"] if not a["is_management"]]
        need(len(members) == MEMBERS, f"the generated world has {MEMBERS} members")
        self.members = sorted(a["id"] for a in members)
        # Round-robin over the 20 (account, region) pairs until 300 live
        # instances are chosen.
        pools = []
        for a in members:
            for r in a["regions"]:
                pools.append([i for i in r["instances"] if i["state"] != "terminated"])
        for a in world["accounts"]:
            for r in a["regions"]:
                for i in r["instances"]:
                    tag(i, "prod")
                    if a["is_management"] and i["state"] != "terminated":
                        tag(i, "dev")  # not registered: must stay as it is
        chosen = 0
        while chosen < TARGETS:
            before = chosen
            for p in pools:
                if p and chosen < TARGETS:
                    i = p.pop(0)
                    tag(i, "dev")
                    i["state"] = "running"
                    i["transition_at"] = None
                    chosen += 1
            need(chosen > before, f"the members have {TARGETS} live instances", f"only {chosen}")
        self.world_file = os.path.join(self.tmp, "world.json")
        with open(self.world_file, "w") as f:
            json.dump(world, f)
        self.start_world("sandbox-1")
        self.targets = {i["id"] for i in self.instances() if i["target"]}
        need(len(self.targets) == TARGETS, f"{TARGETS} targeted instances", str(len(self.targets)))
        pairs = {(i["account"], i["region"]) for i in self.instances() if i["target"]}
        check(len(pairs) == MEMBERS * len(REGIONS),
              "the targets are spread over every member account and region", str(len(pairs)))

        phase("escher-api, escher-worker; 10 accounts registered and verified through the API")
        self.start_api()
        self.worker = self.start_worker()
        for m in self.members:
            self.api.want(201, "POST", "/v1/accounts", self.t.token, {
                "role_arn": f"arn:aws:iam::{m}:role/EscherOperator",
                "readonly_role_arn": f"arn:aws:iam::{m}:role/EscherReadOnly",
                "regions": REGIONS})
        deadline = time.monotonic() + 60
        while True:
            accts = self.api.all_items("/v1/accounts", self.t.token)
            if all(a["status"] != "pending" for a in accts) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        need(sorted(a["account_id"] for a in accts if a["status"] == "verified") == self.members,
             f"the {MEMBERS} members are verified",
             json.dumps([(a["account_id"], a["status"], a["last_error"]) for a in accts]))
        self.worker.stop()

    def start_world(self, name):
        """A sandbox serving the saved world (every target running again)."""
        self.sb = start_sandbox(self.sandbox_bin, self.tmp, name,
                                ["--world", self.world_file, "--aws-config", self.aws_dir])
        self.procs.append(self.sb.proc)
        state = self.sb.admin("GET", "/state")
        self.hub_arn = state["hub"]["users"][0]["arn"]

    def instances(self):
        """Every instance of the sandbox now: id, account, region, state, target."""
        out = []
        state = self.sb.admin("GET", "/state")
        for a in state["accounts"]:
            for r in a["regions"]:
                for i in r["instances"]:
                    out.append({"id": i["id"], "account": a["id"], "region": r["name"],
                                "state": i["state"],
                                "target": env_of(i) == "dev" and not a["is_management"]})
        return out

    # ---- one run ----

    def enqueue(self):
        """The ops.run job, as escher-scheduler would enqueue it."""
        payload = {"operation": "ec2.stop", "params": {}, "dry_run": False,
                   "target": {"accounts": self.members, "regions": "all",
                              "selector": {"tags": {"env": ["dev"]}}}}
        rows = psql(self.db_url,
                    "INSERT INTO jobs (tenant_id, kind, payload, created_by, max_attempts)"
                    f" VALUES ('{self.t.id}', 'ops.run', '{json.dumps(payload)}'::jsonb,"
                    f" '{self.t.email}', {ATTEMPTS}) RETURNING id")
        return rows[0][0]

    def job(self, job):
        rows = psql(self.db_url, "SELECT state, attempts, coalesce(result::text, 'null'),"
                                 " coalesce(last_error, '') FROM jobs WHERE id = '" + job + "'")
        st, attempts, result, last_error = rows[0]
        return st, int(attempts), json.loads(result), last_error

    def steps_done(self, job):
        return int(psql(self.db_url, "SELECT count(*) FROM job_steps WHERE job_id = '" + job +
                        "' AND state = 'done'")[0][0])

    def wait_done(self, job, timeout):
        deadline = time.monotonic() + timeout
        while True:
            st, attempts, result, last_error = self.job(job)
            if st in ("succeeded", "failed", "cancelled"):
                return st, attempts, result, last_error
            if time.monotonic() > deadline:
                need(False, f"job {job} finishes within {timeout} s",
                     f"still {st} after {attempts} attempts, {self.steps_done(job)} steps done")
            time.sleep(0.05)

    def verify(self, job, label, before, t_run):
        st, attempts, result, last_error = self.job(job)
        check(st == "succeeded" and result.get("state") == "succeeded",
              f"{label}: the job succeeded", f"{st} after {attempts} attempts: {last_error}; "
              f"result state {result.get('state')}, errors {json.dumps(result.get('errors'))[:600]}")
        counts = result.get("counts", {})
        check(counts.get("resources") == TARGETS,
              f"{label}: the result lists the {TARGETS} targeted instances", json.dumps(counts))

        after = {i["id"]: i for i in self.instances()}
        not_stopped = [i for i in self.targets if after[i]["state"] not in ("stopping", "stopped")]
        check(not not_stopped, f"{label}: every targeted instance is stopping or stopped",
              f"{len(not_stopped)} not: {not_stopped[:10]}")
        changed = [(i, before[i]["state"], after[i]["state"]) for i in before
                   if i not in self.targets and after[i]["state"] != before[i]["state"]]
        check(not changed, f"{label}: no other instance changed (prod, management's dev)",
              str(changed[:10]))

        # job_steps: one row per name (the table's unique key), each done; the
        # audit log: one ok row per step.
        dup_steps = psql(self.db_url, "SELECT name, count(*) FROM job_steps WHERE job_id = '" +
                         job + "' AND state = 'done' GROUP BY 1 HAVING count(*) > 1")
        done = self.steps_done(job)
        stop_steps = int(psql(self.db_url, "SELECT count(DISTINCT name) FROM job_steps WHERE"
                              f" job_id = '{job}' AND state = 'done' AND name LIKE 'ec2.stop:%'")[0][0])
        check(not dup_steps and stop_steps == TARGETS,
              f"{label}: one done step per targeted instance, none twice",
              f"{stop_steps} ec2.stop steps done ({done} steps done in all), duplicates {dup_steps[:5]}")
        dup_audit = psql(self.db_url, "SELECT detail->>'step', count(*) FROM audit_log"
                         f" WHERE action = 'job.step' AND target = 'job:{job}'"
                         " AND (detail->>'ok')::bool GROUP BY 1 HAVING count(*) > 1")
        check(not dup_audit, f"{label}: the audit log has one ok row per step", str(dup_audit[:5]))

        # The call log: every target stopped by exactly one StopInstances
        # that changed its state; 30% of EC2 calls throttled.
        calls = self.sb.admin("GET", "/calls?since=0&limit=1000000")["calls"]
        changing, repeats = {}, 0
        ec2 = throttled = 0
        for c in calls:
            if c.get("service") == "ec2":
                ec2 += 1
                throttled += c.get("error_code") == "RequestLimitExceeded"
            if c.get("action") != "StopInstances" or c.get("status") != 200:
                continue
            iid = c["params"].get("InstanceId.1")
            if c.get("note", "").startswith("stopped 1 of"):
                changing[iid] = changing.get(iid, 0) + 1
            else:
                repeats += 1
        twice = [i for i, n in changing.items() if n > 1]
        check(not twice, f"{label}: no instance got two StopInstances that changed its state",
              str(twice[:10]))
        check(set(changing) == self.targets,
              f"{label}: each targeted instance got its state-changing StopInstances",
              f"{len(changing)} of {TARGETS}; other ids {sorted(set(changing) - self.targets)[:5]}")
        share = throttled / ec2 if ec2 else 0
        check(0.2 <= share <= 0.4, f"{label}: about {THROTTLE:.0%} of EC2 calls throttled",
              f"{throttled} of {ec2} EC2 calls ({share:.1%}) answered RequestLimitExceeded")
        print(f"  {label}: {t_run:.1f} s, {attempts} attempts, {ec2} EC2 calls ({throttled}"
              f" throttled, {share:.1%}), {len(changing)} state-changing StopInstances,"
              f" {repeats} successful StopInstances that changed nothing", flush=True)
        return attempts

    def run_plain(self):
        phase(f"run 1: ec2.stop of {TARGETS} instances in {MEMBERS} accounts, 30% of EC2 calls throttled")
        self.set_faults()
        before = {i["id"]: i for i in self.instances()}
        worker = self.start_worker()
        t0 = time.monotonic()
        job = self.enqueue()
        self.wait_done(job, 120)
        t_run = time.monotonic() - t0
        worker.stop()
        self.verify(job, "run 1", before, t_run)
        self.t_plain = t_run

    def run_killed(self):
        phase(f"run 2: the same run on a fresh world, the worker SIGKILLed {KILLS} times")
        self.sb.proc.stop()
        self.start_world("sandbox-2")
        self.set_faults()
        before = {i["id"]: i for i in self.instances()}
        need(sum(1 for i in self.targets if before[i]["state"] == "running") == TARGETS,
             "the fresh world has every target running again")
        # Kill points: random amounts of progress (done steps), then a
        # random few ms more, so a kill can land between a step's begin and
        # its end, inside an AWS call, or between work items.
        marks = sorted(self.rng.sample(range(10, TARGETS - 30), KILLS))
        args = ("--lease", "2s")
        worker = self.start_worker(*args)
        t0 = time.monotonic()
        job = self.enqueue()
        kills = []
        for mark in marks:
            deadline = time.monotonic() + 90
            while self.steps_done(job) < mark:
                if time.monotonic() > deadline:
                    need(False, f"the job reaches {mark} done steps",
                         f"{self.steps_done(job)} after 90 s")
                time.sleep(0.01)
            time.sleep(self.rng.uniform(0, 0.2))
            worker.kill()
            st, attempts, _, _ = self.job(job)
            done = self.steps_done(job)
            kills.append((round(time.monotonic() - t0, 2), done, st))
            need(st == "leased" and done < TARGETS,
                 f"kill {len(kills)} landed mid-run", f"job {st}, {done} steps done")
            worker = self.start_worker(*args)
        self.wait_done(job, 150)
        t_run = time.monotonic() - t0
        worker.stop()
        print(f"  kills at (seconds, steps done, job state): {kills}", flush=True)
        attempts = self.verify(job, "run 2", before, t_run)
        check(attempts >= KILLS + 1, "run 2: every kill cost the job an attempt (leases reaped)",
              f"{attempts} attempts")
        begun = psql(self.db_url, "SELECT count(*) FROM job_steps WHERE job_id = '" + job +
                     "' AND state <> 'done'")[0][0]
        print(f"  run 2: {t_run:.1f} s against {self.t_plain:.1f} s without kills;"
              f" {begun} steps left begun or failed", flush=True)

    def set_faults(self):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.sb.admin_port, timeout=30)
        conn.request("PUT", "/faults", body=json.dumps(FAULTS),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        need(resp.status == 200, "PUT /faults", f"{resp.status} {raw[:300]!r}")


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    if not PG:
        print("ESCHER_TEST_PG_URL is unset: skipped (run tests/run.sh)")
        return 77
    s = Reliability(*sys.argv[1:])
    return run(s, [s.setup, s.run_plain, s.run_killed])


if __name__ == "__main__":
    sys.exit(main())
