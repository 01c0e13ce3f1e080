#!/usr/bin/python3
"""End to end: a customer onboards AWS accounts through escher-api, and
escher-worker verifies them in escher-sandbox.

The real programs run together: a private database on $ESCHER_TEST_PG_URL
(`escher-api migrate`, `bootstrap` of tenants A and B), escher-sandbox whose
customer roles trust the hub with tenant A's ExternalId (one member account
is SUSPENDED, so discovery has one to skip), escher-api and escher-worker (as
the sandbox's `hub` profile, through the default credential chain). Then,
only through the HTTP API as a client would:

  - onboarding: GET /v1/onboarding hands out tenant A's ExternalId and the
    hub's ARN, the principal the sandbox's roles trust;
  - A registers a member by its EscherOperator (and EscherReadOnly) role:
    verified; B registers the same role (its ExternalId is not trusted), A a
    role missing from its account and OrganizationAccountAccessRole (trusts
    only the management account): each failed with the sandbox's AccessDenied
    word for word, as Debian's aws CLI reads it from the sandbox itself;
  - the worker stopped (SIGTERM: exit 0, nothing handed back), a verification
    whose account is then deleted, and one cancelled through the API while
    queued; a new worker fails the first plainly and never runs the second;
  - A fixes a role (PATCH) and discovers the organization from the management
    account's EscherReadOnly role: every ACTIVE account verified, the
    SUSPENDED one skipped, the job's steps and result;
  - the sandbox call log: every AssumeRole is the hub's, named escher-<job id>
    of a job the API shows, SourceIdentity the email of the user whose token
    asked for it, DurationSeconds 900, the tenant's ExternalId, and a session
    policy of exactly the actions `escher-worker kinds` declares;
  - the audit log through the API: every mutation and every job step, and the
    chain verifies for both tenants;
  - secrets: no secret key or session token the sandbox holds or issued, and
    no API token, is in the API's log, the workers' logs or pg_dump of the
    database (which holds each token's SHA-256 only).

Usage: test_onboarding.py ESCHER_API ESCHER_WORKER ESCHER_SANDBOX
Standard library only; exit 77 (skipped) without ESCHER_TEST_PG_URL.
"""
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import (PG, TIME_RE, UUID_RE, Stack, check, clean_env, need, phase,  # noqa: E402
                    psql, run, start_sandbox)

PROBE_SESSION = "e2e-probe"  # the test's own AssumeRole calls through the aws CLI


class E2E(Stack):
    def __init__(self, api_bin, worker_bin, sandbox_bin):
        super().__init__("e2e", api_bin, worker_bin, sandbox_bin)
        self.expected_by = {}  # job id -> email of the user whose token caused it
        self.tenant_of_job = {}  # job id -> Tenant
        self.jobs_seen = {}  # job id -> the job as GET /v1/jobs/{id} last showed it

    # ---- setup ----

    def setup(self):
        phase("database, migrate, bootstrap")
        self.create_db()
        self.a = self.bootstrap("A")
        self.b = self.bootstrap("B")
        need(self.a.external_id != self.b.external_id and len(self.a.external_id) == 48,
             "bootstrap prints a 48-character ExternalId per tenant",
             f"A {self.a.external_id} B {self.b.external_id}")

        phase("escher-sandbox (roles trust tenant A's ExternalId; one member SUSPENDED)")
        first = start_sandbox(self.sandbox_bin, self.tmp, "sandbox-generate",
                              ["--accounts", "4", "--regions", "us-east-1", "--seed", "11",
                               "--external-id", self.a.external_id])
        world = first.admin("GET", "/state")
        first.proc.stop()
        mgmt = [a for a in world["accounts"] if a["is_management"]]
        need(len(mgmt) == 1, "the generated world has one management account")
        self.mgmt = mgmt[0]["id"]
        self.members = [a["id"] for a in world["accounts"] if not a["is_management"]]
        need(len(self.members) == 4, "the generated world has 4 members", str(self.members))
        self.suspended = self.members[3]
        for a in world["accounts"]:
            if a["id"] == self.suspended:
                a["status"] = "SUSPENDED"
        world_file = os.path.join(self.tmp, "world.json")
        with open(world_file, "w") as f:
            json.dump(world, f)
        self.sb = start_sandbox(self.sandbox_bin, self.tmp, "sandbox",
                                ["--world", world_file, "--external-id", self.a.external_id,
                                 "--aws-config", self.aws_dir])
        self.procs.append(self.sb.proc)
        need(self.sb.proc.info.get("external_id") == self.a.external_id,
             "the sandbox's roles trust tenant A's ExternalId",
             str(self.sb.proc.info.get("external_id")))
        state = self.sb.admin("GET", "/state")
        self.hub_arn = state["hub"]["users"][0]["arn"]
        self.active = sorted(a["id"] for a in state["accounts"] if a["status"] == "ACTIVE")
        need(self.suspended not in self.active and len(self.active) == 4,
             "sandbox: management + 3 ACTIVE members, 1 SUSPENDED",
             f"active {self.active}, suspended {self.suspended}, hub {self.hub_arn}")
        self.start_probes()

        phase("escher-api and escher-worker")
        self.start_api()
        self.worker = self.start_worker()

    def start_probes(self):
        """The sandbox's own words for the refusals the jobs will meet, from
        Debian's aws CLI as the hub (run now, read later)."""
        env = clean_env(["AWS_"], {
            "AWS_CONFIG_FILE": os.path.join(self.aws_dir, "config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.aws_dir, "credentials"),
            "AWS_MAX_ATTEMPTS": "1", "AWS_PAGER": "", "AWS_EC2_METADATA_DISABLED": "true"})
        self.op1 = self.arn(self.members[0], "EscherOperator")
        self.missing = self.arn(self.members[1], "NoSuchRole")
        self.untrusting = self.arn(self.members[2], "OrganizationAccountAccessRole")
        self.probes = {}
        for role, xid in ((self.op1, self.b.external_id), (self.missing, self.a.external_id),
                          (self.untrusting, self.a.external_id)):
            self.probes[role] = subprocess.Popen(
                ["/usr/bin/aws", "--profile", "hub", "--endpoint-url", self.sb.endpoint,
                 "sts", "assume-role", "--role-arn", role, "--role-session-name", PROBE_SESSION,
                 "--external-id", xid, "--duration-seconds", "900"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def probe_error(self, role):
        """'<Code>: <message>' as the aws CLI printed the sandbox's refusal."""
        p = self.probes[role]
        if isinstance(p, str):
            return p
        out, err = p.communicate(timeout=60)
        m = re.search(r"An error occurred \((\w+)\) when calling the AssumeRole operation"
                      r"(?: \(reached max retries: \d+\))?: (.*)",
                      err)
        need(p.returncode != 0 and m, f"aws sts assume-role {role} is refused", err or out)
        self.probes[role] = f"{m.group(1)}: {m.group(2).strip()}"
        return self.probes[role]

    @staticmethod
    def arn(account, name):
        return f"arn:aws:iam::{account}:role/{name}"

    def job(self, job_id, tenant, email):
        self.expected_by[job_id] = email
        self.tenant_of_job[job_id] = tenant
        return job_id

    # ---- scenarios ----

    def onboarding(self):
        phase("onboarding facts and an executor for tenant A")
        doc = self.api.want(200, "GET", "/v1/onboarding", self.a.token)
        check(doc["external_id"] == self.a.external_id and doc["escher_principal_arn"] == self.hub_arn,
              "GET /v1/onboarding: tenant A's ExternalId and the hub's ARN (what the roles trust)",
              f"{doc['external_id']} {doc['escher_principal_arn']}")
        params = {p["ParameterKey"]: p["ParameterValue"] for p in doc["cloudformation"]["parameters"]}
        check(params.get("ExternalId") == self.a.external_id
              and params.get("EscherPrincipalArn") == self.hub_arn,
              "GET /v1/onboarding: the CloudFormation parameters carry them", str(params))
        u = self.api.want(201, "POST", "/v1/users", self.a.token,
                          {"email": "operator@a.example", "role": "executor"})
        tok = self.api.want(201, "POST", "/v1/tokens", self.a.token,
                            {"user_id": u["id"], "name": "e2e executor"})
        self.exec_token, self.exec_email = tok["token"], "operator@a.example"
        self.api_tokens.append(self.exec_token)
        me = self.api.want(200, "GET", "/v1/me", self.exec_token)
        check(me.get("role") == "executor", "the executor's token works", str(me))

    def register(self):
        phase("register: right ExternalId, wrong ExternalId, missing role, untrusting role")
        ro1 = self.arn(self.members[0], "EscherReadOnly")
        cases = [  # (what, tenant, body)
            ("A: member's EscherOperator + EscherReadOnly", self.a,
             {"role_arn": self.op1, "readonly_role_arn": ro1, "name": "first member"}),
            ("B: the same role, B's ExternalId", self.b, {"role_arn": self.op1}),
            ("A: a role missing from the account", self.a, {"role_arn": self.missing}),
            ("A: OrganizationAccountAccessRole", self.a, {"role_arn": self.untrusting}),
        ]
        made = []
        for what, t, body in cases:
            acct = self.api.want(201, "POST", "/v1/accounts", t.token, body)
            check(acct["status"] == "pending" and UUID_RE.match(acct.get("verification_job") or ""),
                  f"POST /v1/accounts ({what}): 201 pending with a verification job",
                  acct.get("verification_job"))
            made.append((what, t, acct, self.job(acct["verification_job"], t, t.email)))
        self.acct1_a = made[0][2]
        self.acct1_b = made[1][2]
        self.acct_missing = made[2][2]
        self.acct_untrusting = made[3][2]
        t0 = time.monotonic()
        done = {}
        for t in (self.a, self.b):
            done.update(self.api.wait_jobs([m[3] for m in made if m[1] is t], t.token))
        self.jobs_seen.update(done)
        print(f"  4 verifications finished in {time.monotonic() - t0:.2f} s")

        # Verified.
        j = done[made[0][3]]
        a = self.api.want(200, "GET", f"/v1/accounts/{self.acct1_a['id']}", self.a.token)
        check(j["state"] == "succeeded" and j["attempts"] == 1 and j["last_error"] is None,
              "A's verification job succeeded", f"{j['state']} {j['last_error']}")
        check(a["status"] == "verified" and TIME_RE.match(a["verified_at"] or "")
              and a["last_error"] is None,
              "GET /v1/accounts/{id}: verified with verified_at", f"{a['status']} {a['verified_at']}")
        roles = (j.get("result") or {}).get("roles") or []
        want_arns = [f"arn:aws:sts::{self.members[0]}:assumed-role/{n}/escher-{made[0][3]}"
                     for n in ("EscherOperator", "EscherReadOnly")]
        check([r.get("ok") for r in roles] == [True, True] and [r.get("arn") for r in roles] == want_arns,
              "the job's result: both roles assumed, each caller ARN named by the job", str(roles))
        check([s["name"] for s in j["steps"]] == [f"verify {self.op1}", f"verify {ro1}"]
              and all(s["state"] == "done" for s in j["steps"]),
              "the job's steps: one per role, done", str([(s["name"], s["state"]) for s in j["steps"]]))

        # Refused: the sandbox's words on the account and the job.
        for (what, t, acct, job_id), role in zip(made[1:], (self.op1, self.missing, self.untrusting)):
            want = self.probe_error(role)
            j = done[job_id]
            a = self.api.want(200, "GET", f"/v1/accounts/{acct['id']}", t.token)
            check(a["status"] == "failed" and a["verified_at"] is None,
                  f"{what}: the account is failed", a["status"])
            check(a["last_error"] == want, f"{what}: last_error is the sandbox's refusal word for word",
                  f"account {a['last_error']!r} vs aws CLI {want!r}")
            check(j["state"] == "failed" and j["last_error"] == want and j["attempts"] == 1,
                  f"{what}: the job failed once (not retried) with the same words",
                  f"{j['state']} attempts {j['attempts']} {j['last_error']!r}")
            errs = [r.get("error") for r in (j.get("result") or {}).get("roles", [])]
            if j.get("result") is not None:
                check(errs and errs[0] and f"{errs[0].get('code')}: {errs[0].get('message')}" == want,
                      f"{what}: the job's result names the error", str(errs))
        print(f"  AccessDenied as the sandbox words it: {self.probe_error(self.op1)}")

        # B's token sees none of A's, and the other way round.
        st, _ = self.api.call("GET", f"/v1/accounts/{self.acct1_a['id']}", self.b.token)
        st2, _ = self.api.call("GET", f"/v1/jobs/{made[0][3]}", self.b.token)
        check(st == 404 and st2 == 404, "tenant B gets 404 for A's account and job", f"{st} {st2}")

    def stopped_worker(self):
        phase("worker stopped: a job for a deleted account, a queued job cancelled")
        rc = self.worker.stop()
        stopping = self.worker.line_with("stopping: no more leases; running jobs get the grace period")
        text = self.worker.text()
        check(rc == 0 and stopping is not None and stopping.get("jobs") == 0
              and "handing running jobs back" not in text and '"worker stopped"' in text,
              "SIGTERM on an idle worker: exit 0, no job in hand, nothing handed back",
              json.dumps(stopping))
        leased = self.api.all_items("/v1/jobs?state=leased", self.a.token) + \
            self.api.all_items("/v1/jobs?state=leased", self.b.token)
        check(leased == [], "no job is left leased", str(leased)[:300])

        # A verification (asked by the executor) whose account is then deleted.
        doc = self.api.want(202, "POST", f"/v1/accounts/{self.acct_untrusting['id']}/verify",
                            self.exec_token)
        self.job_deleted = self.job(doc["job"], self.a, self.exec_email)
        self.api.want(204, "DELETE", f"/v1/accounts/{self.acct_untrusting['id']}", self.a.token)
        st, _ = self.api.call("GET", f"/v1/accounts/{self.acct_untrusting['id']}", self.a.token)
        j = self.api.want(200, "GET", f"/v1/jobs/{self.job_deleted}", self.a.token)
        check(st == 404 and j["state"] == "queued" and j["account_id"] is None,
              "DELETE /v1/accounts/{id}: gone (404); its queued job stays, unlinked",
              f"{st} {j['state']} {j['account_id']}")

        # A verification cancelled while queued (by the executor).
        doc = self.api.want(202, "POST", f"/v1/accounts/{self.acct_missing['id']}/verify",
                            self.a.token)
        self.job_cancelled = self.job(doc["job"], self.a, self.a.email)
        c = self.api.want(200, "POST", f"/v1/jobs/{self.job_cancelled}/cancel", self.exec_token)
        check(c.get("cancel") == "cancelled" and c.get("state") == "cancelled",
              "POST /v1/jobs/{id}/cancel of a queued job: cancelled at once",
              f"{c.get('cancel')} {c.get('state')}")
        st, doc = self.api.call("POST", f"/v1/jobs/{self.job_cancelled}/cancel", self.exec_token)
        check(st == 409, "cancelling it again: 409", f"{st} {doc}")

        self.worker = self.start_worker()
        j = self.api.wait_jobs([self.job_deleted], self.a.token)[self.job_deleted]
        self.jobs_seen[self.job_deleted] = j
        want = f"tenant {self.a.id} has no AWS account '{self.acct_untrusting['id']}'"
        check(j["state"] == "failed" and j["attempts"] == 1 and j["last_error"] == want,
              "the deleted account's job fails once, plainly", f"{j['state']} {j['last_error']!r}")
        time.sleep(0.3)  # the new worker's first lease and a poll: it must not take the cancelled job
        c = self.api.want(200, "GET", f"/v1/jobs/{self.job_cancelled}", self.a.token)
        self.jobs_seen[self.job_cancelled] = c
        check(c["state"] == "cancelled" and c["attempts"] == 0 and c["steps"] == [],
              "the cancelled job stays cancelled: never leased, no step",
              f"{c['state']} attempts {c['attempts']} steps {c['steps']}")

    def discovery(self):
        phase("fix a role, then discover the organization")
        # The fix names the read-only role as the operator role: a choice of
        # the customer's that discovery's templates must not overwrite.
        self.fixed_role = self.arn(self.members[1], "EscherReadOnly")
        fixed = self.api.want(200, "PATCH", f"/v1/accounts/{self.acct_missing['id']}", self.a.token,
                              {"role_arn": self.fixed_role})
        check(fixed["status"] == "pending" and fixed.get("verification_job"),
              "PATCH role_arn: pending, verified again", str(fixed.get("verification_job")))
        again = self.api.want(202, "POST", f"/v1/accounts/{self.acct1_a['id']}/verify",
                              self.exec_token)
        jobs = [self.job(fixed["verification_job"], self.a, self.a.email),
                self.job(again["job"], self.a, self.exec_email)]
        done = self.api.wait_jobs(jobs, self.a.token)
        self.jobs_seen.update(done)
        check(all(done[j]["state"] == "succeeded" for j in jobs),
              "the fixed role and the executor's re-verification succeed",
              str([done[j]["state"] for j in jobs]))

        mgmt_ro = self.arn(self.mgmt, "EscherReadOnly")
        doc = self.api.want(202, "POST", "/v1/discovery", self.a.token,
                            {"management_role_arn": mgmt_ro})
        self.discover_job = self.job(doc["job"], self.a, self.a.email)
        t0 = time.monotonic()
        j = self.api.wait_jobs([self.discover_job], self.a.token)[self.discover_job]
        self.jobs_seen[self.discover_job] = j
        print(f"  discovery finished in {time.monotonic() - t0:.2f} s")
        r = j.get("result") or {}
        check(j["state"] == "succeeded" and j["kind"] == "org.discover" and j["created_by"] == self.a.email,
              "POST /v1/discovery: the job succeeds", f"{j['state']} {j['last_error']}")
        check(r.get("members") == 5 and sorted(r.get("verified", [])) == self.active
              and r.get("failed") == [],
              "the result: 5 members, every ACTIVE one verified, none failed",
              json.dumps(r))
        check(sorted(r.get("registered", [])) == self.active,
              "the result: every ACTIVE account registered (new rows and existing ones)",
              str(r.get("registered")))
        check([s.get("account_id") for s in r.get("skipped", [])] == [self.suspended],
              "the result: the SUSPENDED member skipped", str(r.get("skipped")))
        names = [s["name"] for s in j["steps"]]
        check(names and names[0] == "list accounts #1" and all(s["state"] == "done" for s in j["steps"])
              and all(f"record {a}" in names for a in self.active)
              and all(s["started_at"] and s["finished_at"] for s in j["steps"]),
              f"GET /v1/jobs/{{id}}: {len(names)} steps, the listing first, a record per ACTIVE account",
              str(names))
        print("  steps: " + ", ".join(names))

        accounts = self.api.all_items("/v1/accounts", self.a.token)
        got = sorted(a["account_id"] for a in accounts)
        check(got == self.active, "GET /v1/accounts: exactly the ACTIVE accounts", f"{got}")
        check(all(a["status"] == "verified" and TIME_RE.match(a["verified_at"] or "")
                  and a["last_error"] is None for a in accounts),
              "GET /v1/accounts: every one verified with verified_at",
              str([(a["account_id"], a["status"], a["last_error"]) for a in accounts]))
        by_id = {a["account_id"]: a for a in accounts}
        for acct in (self.members[2], self.mgmt):  # deleted above / never registered
            a = by_id.get(acct, {})
            check(a.get("role_arn") == self.arn(acct, "EscherOperator")
                  and a.get("readonly_role_arn") == self.arn(acct, "EscherReadOnly"),
                  f"{acct}: a new row from the role-name templates",
                  f"{a.get('role_arn')} {a.get('readonly_role_arn')}")
        kept = by_id.get(self.members[1], {})
        check(kept.get("role_arn") == self.fixed_role and kept.get("readonly_role_arn") is None,
              f"{self.members[1]}: an existing row keeps the roles the customer gave",
              f"{kept.get('role_arn')} {kept.get('readonly_role_arn')}")
        first = by_id.get(self.members[0], {})
        check(first.get("name") not in ("first member", None, ""),
              f"{self.members[0]}: an existing row takes its name from AWS", str(first.get("name")))
        for a in accounts:
            print(f"  {a['account_id']}  {a['status']:8}  {a['verified_at']}  {a['name']}")
        vb = self.api.all_items("/v1/accounts", self.b.token)
        check([(a["account_id"], a["status"]) for a in vb] == [(self.members[0], "failed")],
              "tenant B still has its one failed account", str(vb))

    def call_log(self):
        phase("the sandbox's call log")
        kinds = json.loads(subprocess.run([self.worker_bin, "kinds"], capture_output=True,
                                          text=True, check=True).stdout)
        calls = self.sb.admin("GET", "/calls?since=0&limit=100000")
        need(calls.get("dropped") == 0, "the call log dropped nothing", str(calls.get("dropped")))
        assumes = [c for c in calls["calls"] if c["action"] == "AssumeRole"]
        probes = [c for c in assumes if c["params"].get("RoleSessionName") == PROBE_SESSION]
        check(len(probes) == 3 and all(c["status"] == 403 for c in probes),
              "the test's own 3 probes (aws CLI) were refused", str(len(probes)))
        sessions_by_job = {}
        bad = []
        job_cache = {}
        for c in assumes:
            p = c["params"]
            name = p.get("RoleSessionName", "")
            if name == PROBE_SESSION:
                continue
            m = re.fullmatch(r"escher-(.*)", name)
            job_id = m.group(1) if m else None
            if job_id not in job_cache:
                job_cache[job_id] = None
                if job_id and UUID_RE.match(job_id):
                    for t in (self.a, self.b):
                        st, doc = self.api.call("GET", f"/v1/jobs/{job_id}", t.token)
                        if st == 200:
                            job_cache[job_id] = (t, doc)
            if job_cache[job_id] is None:
                bad.append(f"seq {c['seq']}: session {name!r} names no job the API shows")
                continue
            t, job = job_cache[job_id]
            sessions_by_job.setdefault(job_id, []).append(c)
            policy = json.loads(p["Policy"]) if p.get("Policy") else None
            stmts = (policy or {}).get("Statement") or []
            actions = stmts[0].get("Action") if len(stmts) == 1 and stmts[0].get("Effect") == "Allow" \
                and stmts[0].get("Resource") == "*" else None
            if isinstance(actions, str):
                actions = [actions]
            scopes = kinds[job["kind"]]["scopes"]
            listing = job["kind"] == "org.discover" and \
                p["RoleArn"] == job["payload"]["management_role_arn"] and actions == scopes.get("list")
            want_actions = scopes["list"] if listing else scopes["verify"]
            problems = []
            if c["principal_arn"] != self.hub_arn:
                problems.append(f"caller {c['principal_arn']}")
            if p.get("SourceIdentity") != self.expected_by.get(job_id) or \
                    p.get("SourceIdentity") != job["created_by"]:
                problems.append(f"SourceIdentity {p.get('SourceIdentity')!r}, job by "
                                f"{job['created_by']!r}, asked by {self.expected_by.get(job_id)!r}")
            if p.get("DurationSeconds") != "900":
                problems.append(f"DurationSeconds {p.get('DurationSeconds')!r}")
            if p.get("ExternalId") != t.external_id:
                problems.append(f"ExternalId {p.get('ExternalId')!r} (tenant {t.name})")
            if actions != want_actions:
                problems.append(f"session policy {p.get('Policy')!r}, want actions {want_actions}")
            if problems:
                bad.append(f"seq {c['seq']} {p['RoleArn']} job {job_id}: " + "; ".join(problems))
        n = len(assumes) - len(probes)
        check(not bad, f"{n} AssumeRole calls by the workers: each the hub's, escher-<job id> of a "
                       f"job the API shows, SourceIdentity its user, 900 s, the tenant's ExternalId, "
                       f"the kind's actions only", "\n".join(bad[:20]))
        ran = {j for j in self.expected_by if j not in (self.job_cancelled, self.job_deleted)}
        check(set(sessions_by_job) == ran,
              "every job that ran assumed roles; the cancelled and the deleted account's did not",
              f"missing {sorted(ran - set(sessions_by_job))}, extra {sorted(set(sessions_by_job) - ran)}")
        idents = sorted({c["params"].get("SourceIdentity") for cs in sessions_by_job.values() for c in cs})
        lists = [c for c in sessions_by_job.get(self.discover_job, [])
                 if c["params"].get("Policy") and "organizations:ListAccounts" in c["params"]["Policy"]]
        check(len(lists) == 1 and lists[0]["status"] == 200,
              "discovery listed with one session scoped to organizations:ListAccounts", str(len(lists)))
        print(f"  {n} AssumeRole by workers across {len(sessions_by_job)} jobs; source identities {idents}")
        for c in lists[:1] + sessions_by_job.get(self.discover_job, [])[1:2]:
            shown = {k: c["params"].get(k) for k in ("RoleArn", "RoleSessionName", "SourceIdentity",
                                                      "DurationSeconds", "ExternalId", "Policy")}
            print(f"  e.g. seq {c['seq']} -> {c['status']}: {json.dumps(shown)}")
        refused = [c for cs in sessions_by_job.values() for c in cs if c["status"] != 200]
        check(len(refused) == 3 and all(c["error_code"] == "AccessDenied" for c in refused),
              "exactly the 3 refused verifications were refused AssumeRoles (AccessDenied)",
              str([(c["params"]["RoleArn"], c["error_code"]) for c in refused]))

    def audit(self):
        phase("the audit log through the API")
        for t in (self.a, self.b):
            rows = self.api.all_items("/v1/audit", t.token)
            counts = {}
            for r in rows:
                counts[r["action"]] = counts.get(r["action"], 0) + 1
            print(f"  tenant {t.name}: {len(rows)} rows {json.dumps(counts, sort_keys=True)}")
            steps = {}
            for j, tj in self.tenant_of_job.items():
                if tj is t:
                    doc = self.api.want(200, "GET", f"/v1/jobs/{j}", t.token)
                    steps[j] = len([s for s in doc["steps"] if s["state"] != "begun"])
            step_rows = [r for r in rows if r["action"] == "job.step"]
            per_job = {}
            for r in step_rows:
                per_job[r["target"]] = per_job.get(r["target"], 0) + 1
            want_steps = {f"job:{j}": n for j, n in steps.items() if n}
            check(per_job == want_steps and all(r["actor"].startswith("worker:") for r in step_rows),
                  f"tenant {t.name}: a job.step row (actor worker:...) per finished step of each job",
                  f"{per_job} vs {want_steps}")
            if t is self.a:
                want = {"accounts.create": 3, "accounts.verify": 3, "accounts.delete": 1,
                        "accounts.update": 1, "discovery.start": 1, "jobs.cancel": 1,
                        "users.create": 1, "tokens.create": 1}
            else:
                want = {"accounts.create": 1}
            got = {k: counts.get(k, 0) for k in want}
            check(got == want, f"tenant {t.name}: one row per API mutation", f"{got} vs {want}")
            creates = [r for r in rows if r["action"] == "accounts.create"]
            check(all(r["actor"] == t.email for r in creates),
                  f"tenant {t.name}: accounts.create rows name the manager", str([r["actor"] for r in creates]))
            seqs = [r["seq"] for r in rows]
            check(seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs),
                  f"tenant {t.name}: GET /v1/audit newest first")
            v = self.api.want(200, "GET", "/v1/audit/verify", t.token)
            check(v.get("intact") is True and v.get("first_broken_seq") is None
                  and v.get("rows_checked") == len(rows) and v.get("last_seq") == max(seqs),
                  f"tenant {t.name}: GET /v1/audit/verify says intact over every row", json.dumps(v))

    def secrets(self):
        phase("secrets: logs and pg_dump")
        state = self.sb.admin("GET", "/state")
        secrets = []
        for s in state.get("sessions", []):
            secrets += [("session secret", s.get("secret")), ("session token", s.get("token"))]
        sessions = len(state.get("sessions", []))
        for acct in state["accounts"] + [state["hub"]]:
            for u in acct.get("users", []):
                for k in u.get("keys", []):
                    secrets.append((f"key secret of {u.get('arn')}", k.get("secret")))
        secrets = [(what, s) for what, s in secrets if isinstance(s, str) and len(s) >= 16]
        ok_sessions = sum(1 for c in self.sb.admin("GET", "/calls?since=0&limit=100000")["calls"]
                          if c["action"] == "AssumeRole" and c["status"] == 200)
        check(sessions == ok_sessions and sessions > 0,
              "GET /state holds a session for every AssumeRole that succeeded",
              f"{sessions} sessions, {ok_sessions} successful AssumeRole")
        version = psql(self.db_url, "SHOW server_version_num")[0][0]
        major = int(version) // 10000
        pg_dump = f"/usr/lib/postgresql/{major}/bin/pg_dump"
        if not os.access(pg_dump, os.X_OK):
            pg_dump = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"))[-1]
        dump = subprocess.run([pg_dump, "--no-owner", self.db_url], capture_output=True, text=True)
        need(dump.returncode == 0, f"{pg_dump} of the test database", dump.stderr[-1000:])
        check(self.a.external_id in dump.stdout and self.discover_job in dump.stdout
              and "job_steps" in dump.stdout, "the dump holds the data (ExternalId, jobs)")
        texts = {"pg_dump": dump.stdout, "escher-api log": self.api_proc.text()}
        for i, path in enumerate(self.worker_logs):
            with open(path, errors="replace") as f:
                texts[f"escher-worker #{i + 1} log"] = f.read()
        leaks = [f"{what} ({s[:6]}...) in {where}" for what, s in secrets for where, text in texts.items()
                 if s in text]
        sizes = ", ".join(f"{k} {len(v)} B" for k, v in texts.items())
        check(not leaks, f"none of {len(secrets)} sandbox secrets ({sessions} sessions' keys and "
                         f"tokens, every user's secret key) in {sizes}", "; ".join(leaks[:10]))
        leaks = [f"token {tok[:8]}... in {where}" for tok in self.api_tokens
                 for where, text in texts.items() if tok in text]
        check(not leaks and len(self.api_tokens) == 3,
              f"none of the {len(self.api_tokens)} API tokens in the logs or the dump", "; ".join(leaks))
        hashes = [hashlib.sha256(tok.encode()).hexdigest() for tok in self.api_tokens]
        check(all(h in dump.stdout for h in hashes),
              "the dump holds each API token's SHA-256 (and only that)")


def main():
    if len(sys.argv) != 4:
        raise SystemExit(f"usage: {sys.argv[0]} ESCHER_API ESCHER_WORKER ESCHER_SANDBOX")
    if not PG:
        print("SKIP: ESCHER_TEST_PG_URL is not set (tests/run.sh sets it when it starts PostgreSQL)")
        return 77
    t = E2E(*sys.argv[1:4])
    return run(t, [t.setup, t.onboarding, t.register, t.stopped_worker, t.discovery, t.call_log,
                   t.audit, t.secrets])


if __name__ == "__main__":
    sys.exit(main())
