#!/usr/bin/python3
"""escher-api's run routes (api_runs.c) against a real server.

Usage: test_api_runs.py ESCHER_API_BINARY

Uses the acceptance suite's harness (tests/api/apitest.py): a private
database on ESCHER_TEST_PG_URL, tenants A and B bootstrapped with a manager,
an executor and a viewer each, one escher-api. Drives POST /v1/runs and
POST /v1/schedules/{id}/run: the 202 and the ops.run job they queue (its
payload as escher-scheduler's, created_by the caller), dry runs, the risk
rule (an executor is refused high and critical operations but may dry-run
them), validation messages naming the field, the Idempotency-Key header,
tenant isolation and the audit rows. No worker runs: the jobs stay queued.
Skipped (77) without ESCHER_TEST_PG_URL.
"""
import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
import apitest  # noqa: E402

DEV = {"accounts": "all", "regions": "all", "selector": {"tags": {"env": ["dev"]}}}
RESIZE = {"operation": "ec2.resize", "params": {"instance_type": "m5.large"}, "target": DEV}


class Suite:
    def __init__(self, stack, res):
        self.stack = stack
        self.res = res
        self.c = stack.client
        self.A = stack.tenants["A"]
        self.B = stack.tenants["B"]
        self.db = stack.db

    def check(self, cond, what, detail=""):
        return self.res.check(cond, what, detail)

    def call(self, method, path, body=None, role="manager", tenant=None, headers=None):
        t = tenant or self.A
        return self.c.call(method, path, body, token=t.tokens[role], headers=headers)

    def job(self, job_id):
        """The job row as the database has it: kind, payload, created_by, state, key."""
        rows = self.db.rows("SELECT kind, payload::text, created_by, state, tenant_id,"
                            " coalesce(idempotency_key, '') FROM jobs WHERE id = :'v1'", job_id)
        if len(rows) != 1:
            return None
        import json
        k, p, by, state, tenant, key = rows[0]
        return {"kind": k, "payload": json.loads(p), "created_by": by, "state": state,
                "tenant_id": tenant, "key": key}

    def jobs_count(self):
        return int(self.db.value("SELECT count(*) FROM jobs WHERE kind = 'ops.run'"))

    def audit(self, action, target):
        return self.db.rows("SELECT actor, detail::text FROM audit_log WHERE action = :'v1'"
                            " AND target = :'v2' ORDER BY seq", action, target)

    def accepted(self, a, what):
        """The job id of a 202, after checking Location."""
        j = self.stack.expect(a, 202, what)
        self.check(a.headers.get("location") == f"/v1/jobs/{j.get('job')}",
                   f"{what}: Location /v1/jobs/<id>", str(a.headers))
        return j["job"]

    # ---- POST /v1/runs --------------------------------------------------------------

    def test_run(self):
        body = {"operation": "ec2.stop", "params": {"hibernate": False}, "target": DEV}
        jid = self.accepted(self.call("POST", "/v1/runs", body), "POST /v1/runs ec2.stop (manager)")
        j = self.job(jid)
        want = {"operation": "ec2.stop", "params": {"hibernate": False}, "target": DEV,
                "dry_run": False}
        self.check(j and j["kind"] == "ops.run" and j["payload"] == want,
                   "the job is ops.run with the scheduler's payload (no schedule, no fire_at)",
                   str(j))
        self.check(j and j["created_by"] == self.A.emails["manager"] and j["state"] == "queued"
                   and j["tenant_id"] == self.A.id and j["key"] == "",
                   "created_by is the caller's e-mail, queued now for tenant A, no key", str(j))
        a = self.call("GET", f"/v1/jobs/{jid}")
        self.check(a.status == 200 and a.json.get("payload") == want,
                   "GET /v1/jobs/{id} shows the payload", a.short())
        rows = self.audit("runs.create", f"job:{jid}")
        self.check(len(rows) == 1 and rows[0][0] == self.A.emails["manager"]
                   and '"ec2.stop"' in rows[0][1] and '"risk": "medium"' in rows[0][1],
                   "one audit row runs.create target job:<id> by the manager, with the operation"
                   " and its risk", str(rows))

        # A dry run; params default to {}.
        jid = self.accepted(self.call("POST", "/v1/runs", {"operation": "ec2.stop", "target": DEV,
                                                           "dry_run": True}),
                            "POST /v1/runs dry run")
        j = self.job(jid)
        self.check(j and j["payload"] == {"operation": "ec2.stop", "params": {}, "target": DEV,
                                          "dry_run": True},
                   "a dry run's payload has dry_run true and params {}", str(j))

        # Roles: the executor may run a medium operation; the viewer may not run anything.
        jid = self.accepted(self.call("POST", "/v1/runs", body, role="executor"),
                            "POST /v1/runs ec2.stop (executor, medium risk)")
        j = self.job(jid)
        self.check(j and j["created_by"] == self.A.emails["executor"],
                   "the executor's run is created_by the executor", str(j))
        a = self.call("POST", "/v1/runs", body, role="viewer")
        self.check(a.status == 403, "the viewer gets 403", a.short())

    def test_risk(self):
        before = self.jobs_count()
        a = self.call("POST", "/v1/runs", RESIZE, role="executor")
        self.check(a.status == 403 and a.error["code"] == "forbidden" and "high" in a.message
                   and "ec2.resize" in a.message and "dry run" in a.message,
                   "an executor's ec2.resize (risk high) is 403 naming the risk and the dry run",
                   a.short())
        a = self.call("POST", "/v1/runs",
                      {"operation": "ebs.delete_unattached", "target": dict(DEV, selector={"tags": {"env": ["dev"]}})},
                      role="executor")
        self.check(a.status == 403 and "critical" in a.message,
                   "an executor's ebs.delete_unattached (risk critical) is 403 naming the risk",
                   a.short())
        a = self.call("POST", "/v1/runs",
                      {"operation": "asg.set_capacity", "params": {"desired": 2},
                       "target": {"accounts": "all", "regions": "all",
                                  "selector": {"name": "web-*"}}},
                      role="executor")
        self.check(a.status in (400, 403) and ("high" in a.message or "params" in a.message),
                   "an executor's asg.set_capacity (risk high) is refused", a.short())
        self.check(self.jobs_count() == before, "no job was queued by the refused runs",
                   f"{before} -> {self.jobs_count()}")
        jid = self.accepted(self.call("POST", "/v1/runs", dict(RESIZE, dry_run=True), role="executor"),
                            "an executor may dry-run ec2.resize")
        j = self.job(jid)
        self.check(j and j["payload"]["dry_run"] is True and j["payload"]["operation"] == "ec2.resize",
                   "the executor's dry run of ec2.resize is queued as a dry run", str(j))
        jid = self.accepted(self.call("POST", "/v1/runs", RESIZE),
                            "a manager may run ec2.resize for real")
        self.check(self.job(jid)["payload"]["dry_run"] is False, "the manager's resize is no dry run")
        rows = self.audit("runs.create", f"job:{jid}")
        self.check(len(rows) == 1 and '"risk": "high"' in rows[0][1],
                   "the manager's resize is audited with risk high", str(rows))

    def test_invalid(self):
        before = self.jobs_count()
        base = {"operation": "ec2.stop", "target": DEV}
        cases = [
            ({"operation": "ec2.explode"}, "field 'operation'", "unknown operation 'ec2.explode'"),
            ({"operation": "EC2.Stop"}, "field 'operation'", "unknown operation"),
            ({"operation": ""}, "operation", "empty"),
            ({"operation": 5}, "operation", "string"),
            ({"params": {"bogus": 1}}, "field 'params'", "bogus"),
            ({"params": {"hibernate": "yes"}}, "field 'params'", "hibernate"),
            ({"operation": "ec2.resize", "params": {"instance_type": "M5 large"}}, "field 'params'",
             "instance_type"),
            ({"operation": "ec2.resize"}, "field 'params'", "instance_type"),
            ({"params": "x"}, "params", "must be an object"),
            ({"target": {}}, "field 'target'", "target"),
            ({"target": dict(DEV, regions=["us-east-9x"])}, "field 'target'", "us-east-9x"),
            ({"target": dict(DEV, selector={})}, "field 'target'", "selector"),
            ({"target": None}, "target", "must be an object"),
            ({"target": "all"}, "target", "must be an object"),
            ({"dry_run": "yes"}, "dry_run", "true or false"),
            ({"bogus": 1}, "bogus", "unknown field"),
        ]
        for change, field, words in cases:
            body = dict(base)
            body.update(change)
            for role in ("manager", "executor"):
                a = self.call("POST", "/v1/runs", body, role=role)
                self.check(a.status == 400 and field in a.message and words in a.message,
                           f"POST /v1/runs {change} ({role}) -> 400 naming {field!r}: {words!r}",
                           a.short())
        body = dict(base)
        del body["target"]
        a = self.call("POST", "/v1/runs", body)
        self.check(a.status == 400 and "field 'target'" in a.message and "required" in a.message,
                   "no target -> 400 'field 'target' is required'", a.short())
        a = self.call("POST", "/v1/runs", {"target": DEV})
        self.check(a.status == 400 and "operation" in a.message, "no operation -> 400", a.short())
        # A message like the schedules route's: one shared check.
        s = self.call("POST", "/v1/schedules", {"name": "x", "cron": "@daily",
                                                "operation": "ec2.resize",
                                                "params": {"instance_type": "M5 large"},
                                                "target": DEV})
        r = self.call("POST", "/v1/runs", {"operation": "ec2.resize",
                                           "params": {"instance_type": "M5 large"}, "target": DEV})
        self.check(s.status == r.status == 400 and s.message == r.message,
                   "POST /v1/runs and POST /v1/schedules refuse the same params with the same"
                   " message", f"{s.short()} / {r.short()}")
        self.check(self.jobs_count() == before, "no job was queued by the invalid requests")

    def test_idempotency(self):
        body = {"operation": "ec2.start", "target": DEV}
        key = "retry-" + os.urandom(4).hex()
        a1 = self.call("POST", "/v1/runs", body, headers={"Idempotency-Key": key})
        j1 = self.accepted(a1, "POST /v1/runs with an Idempotency-Key")
        self.check("idempotent-replayed" not in a1.headers, "the first answer is no replay",
                   str(a1.headers))
        before = self.jobs_count()
        a2 = self.call("POST", "/v1/runs", body, headers={"Idempotency-Key": key})
        j2 = self.accepted(a2, "the same request with the same key")
        self.check(j1 == j2 and a2.headers.get("idempotent-replayed") == "true",
                   "the same key answers the same job, marked Idempotent-Replayed",
                   f"{j1} / {j2} {a2.headers}")
        self.check(self.jobs_count() == before, "no second job")
        j = self.job(j1)
        want_key = "api:" + hashlib.sha256(key.encode()).hexdigest()
        self.check(j["key"] == want_key, "the job's key is api:<sha256 of the header>", j["key"])
        rows = self.audit("runs.create", f"job:{j1}")
        self.check(len(rows) == 1 and key in rows[0][1],
                   "one audit row for the two requests, with the key", str(rows))
        # The executor of the same tenant with the same request: the same job.
        a = self.call("POST", "/v1/runs", body, role="executor", headers={"Idempotency-Key": key})
        self.check(a.status == 202 and a.json.get("job") == j1,
                   "the key is the tenant's: the executor's retry gets the same job", a.short())
        a = self.call("POST", "/v1/runs", dict(body, dry_run=True), headers={"Idempotency-Key": key})
        self.check(a.status == 409 and a.error["code"] == "conflict" and j1 in a.message
                   and "Idempotency-Key" in a.message,
                   "the same key with another request -> 409 naming the key's job", a.short())
        a = self.call("POST", "/v1/runs", body, tenant=self.B, headers={"Idempotency-Key": key})
        self.check(a.status == 202 and a.json.get("job") != j1,
                   "tenant B's same key is its own: another job", a.short())
        for bad, what in (("k" * 201, "201 characters"), ("a\x7fb", "a DEL character")):
            a = self.call("POST", "/v1/runs", body, headers={"Idempotency-Key": bad})
            self.check(a.status == 400 and "Idempotency-Key" in a.message,
                       f"an Idempotency-Key of {what} -> 400 naming the header", a.short())
        k200 = "k" * 199 + os.urandom(1).hex()[0]
        a = self.call("POST", "/v1/runs", body, headers={"Idempotency-Key": k200})
        self.check(a.status == 202, "an Idempotency-Key of 200 characters is taken", a.short())
        # Scheduler-shaped keys cannot reach the scheduler's jobs.
        sched_key = self.db.value(
            "INSERT INTO jobs (tenant_id, kind, payload, idempotency_key)"
            " VALUES (:'v1', 'ops.run', '{}', 'schedule:x:2026-01-01T00:00:00Z') RETURNING id",
            self.A.id)
        a = self.call("POST", "/v1/runs", body,
                      headers={"Idempotency-Key": "schedule:x:2026-01-01T00:00:00Z"})
        self.check(a.status == 202 and a.json.get("job") != sched_key,
                   "a client key shaped like the scheduler's does not answer the fire's job",
                   a.short())

    # ---- POST /v1/schedules/{id}/run ---------------------------------------------------

    def schedule(self, **fields):
        body = {"name": f"s-{os.urandom(4).hex()}", "cron": "0 20 * * 1-5",
                "time_zone": "Europe/Berlin", "operation": "ec2.stop",
                "params": {"hibernate": True}, "target": DEV}
        body.update(fields)
        return self.stack.expect(self.call("POST", "/v1/schedules", body), 201,
                                 f"POST /v1/schedules {body['name']}")

    def test_schedule_run(self):
        s = self.schedule()
        path = f"/v1/schedules/{s['id']}/run"
        jid = self.accepted(self.call("POST", path), "POST /v1/schedules/{id}/run without a body")
        j = self.job(jid)
        want = {"schedule": s["id"], "operation": "ec2.stop", "params": {"hibernate": True},
                "target": DEV, "dry_run": False}
        self.check(j and j["kind"] == "ops.run" and j["payload"] == want
                   and j["created_by"] == self.A.emails["manager"],
                   "the job runs the schedule's operation, params and target, names the schedule,"
                   " no fire_at, created_by the caller", str(j))
        rows = self.audit("schedules.run", f"schedule:{s['id']}")
        self.check(len(rows) == 1 and rows[0][0] == self.A.emails["manager"] and jid in rows[0][1],
                   "one audit row schedules.run target schedule:<id> with the job", str(rows))
        after = self.stack.expect(self.call("GET", f"/v1/schedules/{s['id']}"), 200, "GET it")
        self.check(after["next_fire_at"] == s["next_fire_at"] and after["last_fire_at"] is None,
                   "running now leaves the schedule's next fire alone", str(after))
        jid = self.accepted(self.call("POST", path, {"dry_run": True}, role="executor"),
                            "the executor runs it as a dry run")
        j = self.job(jid)
        self.check(j and j["payload"]["dry_run"] is True
                   and j["created_by"] == self.A.emails["executor"],
                   "{dry_run: true} overrides the schedule's", str(j))
        jid = self.accepted(self.call("POST", path, {}), "an empty object runs it as stored")
        self.check(self.job(jid)["payload"]["dry_run"] is False, "{} keeps the schedule's dry_run")

        # A schedule stored as a dry run, run for real by overriding.
        d = self.schedule(dry_run=True)
        jid = self.accepted(self.call("POST", f"/v1/schedules/{d['id']}/run"), "a dry-run schedule")
        self.check(self.job(jid)["payload"]["dry_run"] is True, "runs as a dry run by default")
        jid = self.accepted(self.call("POST", f"/v1/schedules/{d['id']}/run", {"dry_run": False}),
                            "a dry-run schedule with {dry_run: false}")
        self.check(self.job(jid)["payload"]["dry_run"] is False, "runs for real when asked")

        # Disabled schedules run too.
        off = self.schedule(enabled=False)
        self.accepted(self.call("POST", f"/v1/schedules/{off['id']}/run"), "a disabled schedule")

        # Risk: a resize schedule.
        rz = self.schedule(**RESIZE)
        a = self.call("POST", f"/v1/schedules/{rz['id']}/run", role="executor")
        self.check(a.status == 403 and "high" in a.message,
                   "the executor's run of a resize schedule -> 403 naming risk high", a.short())
        self.accepted(self.call("POST", f"/v1/schedules/{rz['id']}/run", {"dry_run": True},
                                role="executor"), "the executor's dry run of a resize schedule")
        self.accepted(self.call("POST", f"/v1/schedules/{rz['id']}/run"),
                      "the manager's run of a resize schedule")

        # Isolation, roles, input.
        a = self.call("POST", path, tenant=self.B)
        self.check(a.status == 404 and a.error["code"] == "not_found",
                   "tenant B gets 404 for A's schedule", a.short())
        a = self.call("POST", path, role="viewer")
        self.check(a.status == 403, "the viewer gets 403", a.short())
        for body, words in (({"dry_run": "yes"}, "dry_run"), ({"bogus": 1}, "unknown field 'bogus'"),
                            (b"not json", "JSON"), (b"[]", "object")):
            a = self.call("POST", path, body)
            self.check(a.status == 400 and words in a.message, f"body {body!r} -> 400 naming {words!r}",
                       a.short())
        a = self.call("POST", "/v1/schedules/not-a-uuid/run")
        self.check(a.status == 400 and "'id'" in a.message, "a malformed id -> 400", a.short())
        a = self.call("POST", "/v1/schedules/00000000-0000-4000-8000-000000000000/run")
        self.check(a.status == 404, "a nobody's uuid -> 404", a.short())

        # Idempotency-Key on this route too.
        key = "sched-" + os.urandom(4).hex()
        j1 = self.accepted(self.call("POST", path, headers={"Idempotency-Key": key}), "with a key")
        j2 = self.accepted(self.call("POST", path, headers={"Idempotency-Key": key}), "again")
        self.check(j1 == j2, "the same key runs the schedule once", f"{j1} / {j2}")
        self.check(len([r for r in self.audit("schedules.run", f"schedule:{s['id']}")
                        if key in r[1]]) == 1, "one audit row for the keyed runs")

        # A stored schedule that no longer passes the catalog: 409, no job.
        bad = self.schedule()
        self.db.value("UPDATE schedules SET params = '{\"bogus\": 1}' WHERE id = :'v1'"
                      " RETURNING id", bad["id"])
        before = self.jobs_count()
        a = self.call("POST", f"/v1/schedules/{bad['id']}/run")
        self.check(a.status == 409 and "field 'params'" in a.message and "bogus" in a.message,
                   "a stored schedule the catalog refuses now -> 409 naming the field", a.short())
        self.check(self.jobs_count() == before, "and no job")

    def run(self):
        for name in ("test_run", "test_risk", "test_invalid", "test_idempotency",
                     "test_schedule_run"):
            print(f"== {name}", flush=True)
            try:
                getattr(self, name)()
            except Exception as e:  # one test's crash is a failure, not the end of the suite
                import traceback
                traceback.print_exc()
                self.check(False, f"{name} raised {type(e).__name__}: {e}")


if __name__ == "__main__":
    apitest.main("api_routes_runs", "runs", lambda stack, routes, res: Suite(stack, res).run())
