#!/usr/bin/python3
"""escher-api's schedules routes (api_schedules.c) against a real server.

Usage: test_api_schedules.py ESCHER_API_BINARY

Uses the acceptance suite's harness (tests/api/apitest.py): a private
database on ESCHER_TEST_PG_URL, tenants A and B bootstrapped with a manager,
an executor and a viewer each, one escher-api. Drives every schedules route:
what it answers (next_fire_at computed in the schedule's zone, checked
against Python's zoneinfo), what it stores and audits, the validation
messages (lib/cron's own for an expression), previews across the daylight
saving changes of Europe/Berlin and America/New_York, PATCH recomputing the
next fire only when the timing changes, and the NOTIFY the table sends the
schedulers. Skipped (77) without ESCHER_TEST_PG_URL.
"""
import datetime as dt
import os
import subprocess
import sys
import time
import urllib.parse
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
import apitest  # noqa: E402

UTC = dt.timezone.utc
# Every instance tagged env=dev in every verified account and region.
DEV = {"accounts": "all", "regions": "all", "selector": {"tags": {"env": ["dev"]}}}


def iso(t):
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(s):
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def local_text(t, zone):
    loc = t.astimezone(ZoneInfo(zone))
    off = loc.utcoffset()
    mins = int(off.total_seconds() // 60)
    sign = "-" if mins < 0 else "+"
    mins = abs(mins)
    return loc.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{mins // 60:02d}:{mins % 60:02d}"


def next_daily(hour, minute, zone, weekdays, after):
    """The next fire of "minute hour * * <weekdays>" in zone after `after`
    (UTC), for a time that exists every day (no DST edge at hour)."""
    z = ZoneInfo(zone)
    day = after.astimezone(z).date()
    for _ in range(20):
        t = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=z)
        if t.isoweekday() % 7 in weekdays and t.astimezone(UTC) > after:
            return t.astimezone(UTC)
        day += dt.timedelta(days=1)
    raise AssertionError("no fire found")


def last_sunday(year, month):
    d = dt.date(year, month + 1, 1) - dt.timedelta(days=1) if month < 12 else dt.date(year, 12, 31)
    while d.weekday() != 6:
        d -= dt.timedelta(days=1)
    return d


def nth_sunday(year, month, n):
    d = dt.date(year, month, 1)
    while d.weekday() != 6:
        d += dt.timedelta(days=1)
    return d + dt.timedelta(days=7 * (n - 1))


def next_change_day(fn):
    """The first change day (fn(year)) that is still ahead."""
    today = dt.datetime.now(UTC).date()
    for y in (today.year, today.year + 1):
        d = fn(y)
        if d > today + dt.timedelta(days=1):
            return d
    raise AssertionError("no change day ahead")


class Suite:
    def __init__(self, stack, res):
        self.stack = stack
        self.res = res
        self.c = stack.client
        self.A = stack.tenants["A"]
        self.B = stack.tenants["B"]
        self.m = self.A.tokens["manager"]
        self.db = stack.db

    def check(self, cond, what, detail=""):
        return self.res.check(cond, what, detail)

    def call(self, method, path, body=None, role="manager", tenant=None):
        t = tenant or self.A
        return self.c.call(method, path, body, token=t.tokens[role])

    def expect(self, a, status, what):
        return self.stack.expect(a, status, what)

    def create(self, **fields):
        body = {"name": fields.pop("name", f"s-{os.urandom(4).hex()}"), "operation": "ec2.stop",
                "target": DEV}
        body.update(fields)
        if "cron" not in body and "run_at" not in body:
            body["cron"] = "0 20 * * 1-5"
        return self.expect(self.call("POST", "/v1/schedules", body), 201,
                           f"POST /v1/schedules {body.get('name')}")

    def audit(self, action, target):
        return self.db.rows("SELECT actor, detail::text FROM audit_log WHERE action = :'v1'"
                            " AND target = :'v2' ORDER BY seq", action, target)

    # ---- create -------------------------------------------------------------------

    def test_create(self):
        before = dt.datetime.now(UTC).replace(microsecond=0)
        body = {"name": "stop dev at 20:00 Berlin", "cron": "0 20 * * mon-fri",
                "time_zone": "Europe/Berlin", "operation": "ec2.stop",
                "params": {"hibernate": False}, "target": DEV,
                "dry_run": True, "missed_fire_policy": "run_each", "missed_fire_window_seconds": 600}
        a = self.call("POST", "/v1/schedules", body)
        s = self.expect(a, 201, "POST /v1/schedules with a cron in Europe/Berlin")
        self.check(a.headers.get("location") == f"/v1/schedules/{s['id']}",
                   "201 has Location /v1/schedules/<id>", str(a.headers))
        want = {"name": body["name"], "cron": "0 20 * * mon-fri", "run_at": None,
                "time_zone": "Europe/Berlin", "operation": "ec2.stop", "params": {"hibernate": False},
                "target": body["target"], "dry_run": True, "enabled": True,
                "missed_fire_policy": "run_each", "missed_fire_window_seconds": 600,
                "created_by": self.A.emails["manager"], "last_fire_at": None, "last_error": None}
        diff = {k: (s.get(k), v) for k, v in want.items() if s.get(k) != v}
        self.check(not diff, "the created schedule has every field as sent", str(diff))
        expect = next_daily(20, 0, "Europe/Berlin", {1, 2, 3, 4, 5}, before)
        self.check(s.get("next_fire_at") == iso(expect),
                   "next_fire_at is the next weekday 20:00 in Berlin, in UTC",
                   f"got {s.get('next_fire_at')}, want {iso(expect)}")
        stored = self.db.rows("SELECT tenant_id, next_fire_at = :'v2'::timestamptz, enabled"
                              " FROM schedules WHERE id = :'v1'", s["id"], s["next_fire_at"])
        self.check(stored == [[self.A.id, "t", "t"]], "the row is stored for tenant A with next_fire_at",
                   str(stored))
        rows = self.audit("schedules.create", f"schedule:{s['id']}")
        self.check(len(rows) == 1 and rows[0][0] == self.A.emails["manager"]
                   and "0 20 * * mon-fri" in rows[0][1],
                   "one audit row schedules.create by the manager, with the expression", str(rows))
        a = self.call("POST", "/v1/schedules", dict(body, cron="5 4 * * *"))
        self.check(a.status == 409 and a.error["code"] == "conflict" and body["name"] in a.message
                   and s["id"] in a.message,
                   "the same name again is 409 naming the schedule that has it", a.short())
        a = self.call("POST", "/v1/schedules", dict(body, name="other tenant's name"), tenant=self.B)
        self.check(a.status == 201, "tenant B may use its own names", a.short())
        a = self.call("POST", "/v1/schedules", dict(body, name="stop dev at 20:00 Berlin"),
                      tenant=self.B)
        self.check(a.status == 201, "names are unique per tenant: B may reuse A's", a.short())

        # Defaults.
        s2 = self.create(name="defaults", cron="@hourly")
        want = {"time_zone": "UTC", "params": {}, "target": DEV, "dry_run": False, "enabled": True,
                "missed_fire_policy": "run_once", "missed_fire_window_seconds": 3600}
        diff = {k: (s2.get(k), v) for k, v in want.items() if s2.get(k) != v}
        self.check(not diff, "defaults: UTC, {} params, run_once within 1 hour", str(diff))
        now = dt.datetime.now(UTC)
        nxt = parse(s2["next_fire_at"])
        self.check(nxt.minute == 0 and nxt.second == 0 and now < nxt <= now + dt.timedelta(hours=1),
                   "@hourly's next fire is the next full hour", s2["next_fire_at"])
        # Disabled at creation: no next fire.
        s3 = self.create(name="off", cron="*/5 * * * *", enabled=False)
        self.check(s3["next_fire_at"] is None and s3["enabled"] is False,
                   "a schedule created disabled has next_fire_at null", str(s3))
        # A one-off.
        at = (dt.datetime.now(UTC) + dt.timedelta(hours=2)).replace(microsecond=0)
        s4 = self.create(name="once", run_at=iso(at), time_zone="America/New_York")
        self.check(s4["run_at"] == iso(at) and s4["cron"] is None and s4["next_fire_at"] == iso(at),
                   "a one-off's next fire is its run_at", str(s4))
        off = at.astimezone(ZoneInfo("Asia/Kolkata"))
        s5 = self.create(name="once with offset", run_at=off.isoformat())
        self.check(s5["run_at"] == iso(at), "run_at with an offset is stored in UTC",
                   f"sent {off.isoformat()}, got {s5['run_at']}")

    def test_invalid(self):
        base = {"name": "bad", "operation": "ec2.stop", "cron": "0 20 * * *", "target": DEV}
        cases = [
            ({"cron": "0 20 32 * *"}, None,
             "invalid cron field 'day-of-month' in '0 20 32 * *': 32 is out of range 1-31"),
            ({"cron": "61 * * * *"}, None,
             "invalid cron field 'minute' in '61 * * * *': 61 is out of range 0-59"),
            ({"cron": "0 20 * *"}, "cron", "invalid cron expression '0 20 * *'"),
            ({"cron": "@reboot"}, "cron", "@reboot is not supported"),
            ({"cron": "0 0 30 2 *"}, "cron", "never fires"),
            ({"cron": None}, "cron", "cron"),
            ({"cron": 5}, "cron", "must be a string"),
            ({"run_at": "2026-11-24T20:00:00Z"}, "cron", "not both"),
            ({"time_zone": "Mars/Base"}, "time_zone", "unknown time zone 'Mars/Base'"),
            ({"time_zone": "../etc/passwd"}, "time_zone", "unknown time zone"),
            ({"time_zone": "/etc/localtime"}, "time_zone", "unknown time zone"),
            ({"operation": "EC2.Stop"}, "operation", "unknown operation 'EC2.Stop'"),
            ({"operation": "ec2.explode"}, "operation", "unknown operation 'ec2.explode' (known: "),
            ({"params": {"bogus": 1}}, "params", "bogus"),
            ({"params": {"hibernate": "yes"}}, "params", "hibernate"),
            ({"operation": "ec2.resize", "params": {"instance_type": "M5 large"}}, "params",
             "instance_type"),
            ({"target": {}}, "target", "target"),
            ({"target": dict(DEV, regions=["us-east-9x"])}, "target", "us-east-9x"),
            ({"target": dict(DEV, selector={})}, "target", "selector"),
            ({"params": "x"}, "params", "must be an object"),
            ({"params": ["a"]}, "params", "must be an object"),
            ({"target": None}, "target", "must be an object"),
            ({"target": "all"}, "target", "must be an object"),
            ({"missed_fire_policy": "sometimes"}, "missed_fire_policy", "skip, run_once or run_each"),
            ({"missed_fire_window_seconds": -1}, "missed_fire_window_seconds", "0 to 604800"),
            ({"missed_fire_window_seconds": 604801}, "missed_fire_window_seconds", "0 to 604800"),
            ({"missed_fire_window_seconds": 1.5}, "missed_fire_window_seconds", "integer"),
            ({"missed_fire_window_seconds": "60"}, "missed_fire_window_seconds", "integer"),
            ({"dry_run": "yes"}, "dry_run", "true or false"),
            ({"enabled": 1}, "enabled", "true or false"),
            ({"name": ""}, "name", "empty"),
            ({"name": "a" * 201}, "name", "at most 200"),
            ({"bogus": 1}, "bogus", "unknown field"),
        ]
        for change, field, words in cases:
            body = dict(base)
            for k, v in change.items():
                if v is None and k in ("cron",):
                    body.pop(k)
                else:
                    body[k] = v
            if field == "cron" and "run_at" in change:
                body["cron"] = "0 20 * * *"
            a = self.call("POST", "/v1/schedules", body)
            exact = field is None
            ok = a.status == 400 and (a.message == words if exact else words in a.message)
            if field and ok:
                ok = field in a.message
            self.check(ok, f"POST /v1/schedules {change} -> 400 "
                       + (f"exactly {words!r}" if exact else f"naming {field!r}: {words!r}"),
                       a.short())
        past = iso(dt.datetime.now(UTC) - dt.timedelta(minutes=10))
        a = self.call("POST", "/v1/schedules", {"name": "late", "operation": "ec2.stop", "run_at": past,
                                                "target": DEV})
        self.check(a.status == 400 and "run_at" in a.message and "not passed" in a.message,
                   "a run_at ten minutes ago is refused", a.short())
        a = self.call("POST", "/v1/schedules", {"name": "bad time", "operation": "ec2.stop",
                                                "run_at": "tomorrow at eight", "target": DEV})
        self.check(a.status == 400 and "run_at" in a.message and "ISO-8601" in a.message,
                   "a run_at that is not ISO-8601 is refused", a.short())
        n = self.db.value("SELECT count(*) FROM schedules WHERE name IN ('bad', 'late', 'bad time')")
        self.check(n == "0", "nothing refused was stored", n)
        for role in ("executor", "viewer"):
            a = self.call("POST", "/v1/schedules", dict(base, name=f"by {role}"), role=role)
            self.check(a.status == 403, f"the {role} cannot create a schedule", a.short())

    # ---- read ---------------------------------------------------------------------

    def test_read(self):
        mine = [self.create(name=f"list {i}", cron=f"{i} 3 * * *", enabled=i % 2 == 0)["id"]
                for i in range(5)]
        for role in apitest.ROLES:
            seen, cursor, pages = [], None, 0
            while True:
                p = "/v1/schedules?limit=2" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
                a = self.call("GET", p, role=role)
                if not self.check(a.status == 200, f"{role}: GET {p}", a.short()):
                    break
                seen += [s["id"] for s in a.json["items"]]
                cursor = a.json["next_cursor"]
                pages += 1
                if not cursor or pages > 100:
                    break
            total = int(self.db.value("SELECT count(*) FROM schedules WHERE tenant_id = :'v1'", self.A.id))
            self.check(len(seen) == total == len(set(seen)) and set(mine) <= set(seen),
                       f"{role}: pages of 2 list each of A's {total} schedules once", f"{len(seen)}")
        a = self.call("GET", "/v1/schedules?limit=500")
        ids = [s["id"] for s in a.json["items"]]
        self.check(ids.index(mine[4]) < ids.index(mine[0]), "newest first", str(ids[:8]))
        a = self.call("GET", "/v1/schedules?enabled=false&limit=500")
        self.check(a.status == 200 and all(s["enabled"] is False for s in a.json["items"])
                   and mine[1] in [s["id"] for s in a.json["items"]]
                   and mine[0] not in [s["id"] for s in a.json["items"]],
                   "?enabled=false lists the disabled ones only", a.short())
        self.create(name="a reboot", operation="ec2.reboot", cron="0 1 * * *")
        a = self.call("GET", "/v1/schedules?operation=ec2.reboot")
        self.check(a.status == 200 and [s["name"] for s in a.json["items"]] == ["a reboot"],
                   "?operation=ec2.reboot lists that operation's", a.short())
        for q, word in (("enabled=yes", "enabled"), ("operation=A%20B", "operation"),
                        ("limit=0", "limit"), ("bogus=1", "bogus")):
            a = self.call("GET", f"/v1/schedules?{q}")
            self.check(a.status == 400 and word in a.message, f"GET /v1/schedules?{q} -> 400", a.short())
        for role in apitest.ROLES:
            a = self.call("GET", f"/v1/schedules/{mine[0]}", role=role)
            self.check(a.status == 200 and a.json["id"] == mine[0] and a.json["name"] == "list 0",
                       f"{role}: GET /v1/schedules/{{id}}", a.short())
        a = self.call("GET", f"/v1/schedules/{mine[0].upper()}")
        self.check(a.status == 200, "an upper-case uuid finds it too", a.short())
        a = self.call("GET", "/v1/schedules/00000000-0000-4000-8000-000000000000")
        self.check(a.status == 404 and a.error["code"] == "not_found", "an unknown uuid is 404", a.short())
        a = self.call("GET", "/v1/schedules/list%200")
        self.check(a.status == 400 and "id" in a.message, "a name is not an id: 400", a.short())
        a = self.call("GET", f"/v1/schedules/{mine[0]}", tenant=self.B)
        self.check(a.status == 404, "tenant B gets 404 for A's schedule", a.short())

    # ---- change and delete ------------------------------------------------------------

    def test_patch(self):
        s = self.create(name="patch me", cron="0 7 * * *", time_zone="Europe/Berlin")
        sid = s["id"]
        path = f"/v1/schedules/{sid}"
        a = self.call("PATCH", path, {"params": {"hibernate": True}, "dry_run": True})
        self.check(a.status == 200 and a.json["params"] == {"hibernate": True}
                   and a.json["dry_run"] is True and a.json["next_fire_at"] == s["next_fire_at"],
                   "PATCH params and dry_run: next_fire_at unchanged", a.short())
        before = dt.datetime.now(UTC)
        a = self.call("PATCH", path, {"cron": "30 6 * * *", "time_zone": "America/New_York"})
        want = next_daily(6, 30, "America/New_York", set(range(7)), before)
        self.check(a.status == 200 and a.json["cron"] == "30 6 * * *"
                   and a.json["time_zone"] == "America/New_York"
                   and a.json["next_fire_at"] == iso(want),
                   "PATCH cron and time_zone recomputes next_fire_at in the new zone",
                   f"want {iso(want)}: {a.short()}")
        a = self.call("PATCH", path, {"time_zone": "Asia/Tokyo"})
        want = next_daily(6, 30, "Asia/Tokyo", set(range(7)), dt.datetime.now(UTC))
        self.check(a.status == 200 and a.json["next_fire_at"] == iso(want),
                   "PATCH time_zone alone recomputes it too", a.short())
        a = self.call("PATCH", path, {"enabled": False})
        self.check(a.status == 200 and a.json["enabled"] is False and a.json["next_fire_at"] is None,
                   "disabling clears next_fire_at", a.short())
        a = self.call("PATCH", path, {"missed_fire_policy": "skip", "missed_fire_window_seconds": 0})
        self.check(a.status == 200 and a.json["next_fire_at"] is None
                   and a.json["missed_fire_policy"] == "skip"
                   and a.json["missed_fire_window_seconds"] == 0,
                   "a policy change leaves a disabled schedule without a next fire", a.short())
        a = self.call("PATCH", path, {"enabled": True})
        self.check(a.status == 200 and a.json["next_fire_at"] == iso(want),
                   "enabling computes the next fire again", a.short())
        at = (dt.datetime.now(UTC) + dt.timedelta(days=3)).replace(microsecond=0)
        a = self.call("PATCH", path, {"run_at": iso(at)})
        self.check(a.status == 200 and a.json["cron"] is None and a.json["run_at"] == iso(at)
                   and a.json["next_fire_at"] == iso(at),
                   "PATCH run_at turns it into a one-off", a.short())
        a = self.call("PATCH", path, {"cron": "@daily"})
        want = next_daily(0, 0, "Asia/Tokyo", set(range(7)), dt.datetime.now(UTC))
        self.check(a.status == 200 and a.json["cron"] == "@daily" and a.json["run_at"] is None
                   and a.json["next_fire_at"] == iso(want),
                   "PATCH cron turns it back into a cron schedule", a.short())
        # A one-off whose fire is recorded does not fire again when re-enabled.
        s2 = self.create(name="fired once", run_at=iso(at))
        self.db.rows("INSERT INTO schedule_fires (schedule_id, fire_at, tenant_id)"
                     " VALUES (:'v1', :'v2'::timestamptz, :'v3') RETURNING 1", s2["id"], iso(at), self.A.id)
        self.call("PATCH", f"/v1/schedules/{s2['id']}", {"enabled": False})
        a = self.call("PATCH", f"/v1/schedules/{s2['id']}", {"enabled": True})
        self.check(a.status == 200 and a.json["next_fire_at"] is None,
                   "re-enabling a one-off that already fired gives no next fire", a.short())
        # Refusals, with nothing changed.
        other = self.create(name="taken name")
        for body, status, words in [
            ({"name": "taken name"}, 409, "taken name"),
            ({"cron": "0 20 32 * *"}, 400,
             "invalid cron field 'day-of-month' in '0 20 32 * *': 32 is out of range 1-31"),
            ({"time_zone": "Nowhere/Land"}, 400, "unknown time zone 'Nowhere/Land'"),
            ({"cron": "@daily", "run_at": iso(at)}, 400, "not both"),
            ({"cron": None}, 400, "cron"),
            ({}, 400, "changes nothing"),
            ({"id": "x"}, 400, "unknown field"),
            ({"operation": "ec2.resize"}, 400, "instance_type"),
            ({"params": {"force": True}}, 400, "params"),
            ({"target": {"accounts": "all"}}, 400, "target"),
        ]:
            a = self.call("PATCH", path, body)
            self.check(a.status == status and words in a.message, f"PATCH {body} -> {status} {words!r}",
                       a.short())
        a = self.call("GET", path)
        self.check(a.json["name"] == "patch me" and a.json["cron"] == "@daily",
                   "the refused PATCHes changed nothing", a.short())
        self.check(other["name"] == "taken name", "control")
        a = self.call("PATCH", path, {"name": "renamed"})
        self.check(a.status == 200 and a.json["name"] == "renamed", "PATCH name", a.short())
        rows = self.audit("schedules.update", f"schedule:{sid}")
        self.check(len(rows) == 9, "each successful PATCH wrote one schedules.update audit row",
                   f"{len(rows)} rows")
        for role in ("executor", "viewer"):
            a = self.call("PATCH", path, {"name": role}, role=role)
            self.check(a.status == 403, f"the {role} cannot PATCH", a.short())
        a = self.call("PATCH", path, {"name": "taken over"}, tenant=self.B)
        self.check(a.status == 404, "tenant B gets 404 on PATCH of A's schedule", a.short())

    def test_delete(self):
        s = self.create(name="delete me")
        self.db.rows("INSERT INTO schedule_fires (schedule_id, fire_at, tenant_id)"
                     " VALUES (:'v1', now(), :'v2') RETURNING 1", s["id"], self.A.id)
        for role in ("executor", "viewer"):
            a = self.call("DELETE", f"/v1/schedules/{s['id']}", role=role)
            self.check(a.status == 403, f"the {role} cannot DELETE", a.short())
        a = self.call("DELETE", f"/v1/schedules/{s['id']}", tenant=self.B)
        self.check(a.status == 404, "tenant B gets 404 on DELETE of A's schedule", a.short())
        a = self.call("DELETE", f"/v1/schedules/{s['id']}")
        self.check(a.status == 204 and not a.body, "DELETE -> 204 with no body", a.short())
        a = self.call("GET", f"/v1/schedules/{s['id']}")
        self.check(a.status == 404, "then GET is 404", a.short())
        n = self.db.value("SELECT count(*) FROM schedule_fires WHERE schedule_id = :'v1'", s["id"])
        self.check(n == "0", "its fires went with it", n)
        rows = self.audit("schedules.delete", f"schedule:{s['id']}")
        self.check(len(rows) == 1 and "delete me" in rows[0][1], "one schedules.delete audit row",
                   str(rows))
        a = self.call("DELETE", f"/v1/schedules/{s['id']}")
        self.check(a.status == 404, "a second DELETE is 404", a.short())

    # ---- previews ----------------------------------------------------------------------

    def preview(self, cron, zone, count):
        a = self.call("POST", "/v1/schedules/preview", {"cron": cron, "time_zone": zone, "count": count},
                      role="viewer")
        self.check(a.status == 200, f"POST /v1/schedules/preview {cron!r} in {zone}", a.short())
        return a.json["fires"] if a.status == 200 else []

    def test_preview(self):
        now = dt.datetime.now(UTC)
        fires = self.preview("0 20 * * 1-5", "Europe/Berlin", 12)
        t = now
        want = []
        for _ in range(12):
            t = next_daily(20, 0, "Europe/Berlin", {1, 2, 3, 4, 5}, t)
            want.append({"local": local_text(t, "Europe/Berlin"), "utc": iso(t)})
        self.check(fires == want, "12 weekday 20:00 Berlin fires, local with offset and UTC",
                   f"got {fires[:3]}..., want {want[:3]}...")
        # Spring forward: 02:30 does not exist that day; it fires once at the gap's end.
        for zone, day, local, utc_hour in [
            ("Europe/Berlin", next_change_day(lambda y: last_sunday(y, 3)), "03:00:00+02:00", 1),
            ("America/New_York", next_change_day(lambda y: nth_sunday(y, 3, 2)), "03:00:00-04:00", 7),
        ]:
            fires = self.preview(f"30 2 {day.day} {day.month} *", zone, 1)
            want = [{"local": f"{day.isoformat()}T{local}",
                     "utc": f"{day.isoformat()}T{utc_hour:02d}:00:00Z"}]
            self.check(fires == want, f"{zone} spring forward {day}: 02:30 fires once at the gap's end",
                       f"got {fires}, want {want}")
        # Fall back: 01:30 happens twice; a fixed time fires once, at the first.
        for zone, day, hour, local, utc_hour in [
            ("Europe/Berlin", next_change_day(lambda y: last_sunday(y, 10)), 2, "02:30:00+02:00", 0),
            ("America/New_York", next_change_day(lambda y: nth_sunday(y, 11, 1)), 1, "01:30:00-04:00", 5),
        ]:
            fires = self.preview(f"30 {hour} {day.day} {day.month} *", zone, 2)
            self.check(len(fires) >= 1 and fires[0] == {"local": f"{day.isoformat()}T{local}",
                                                        "utc": f"{day.isoformat()}T{utc_hour:02d}:30:00Z"}
                       and (len(fires) < 2 or not fires[1]["utc"].startswith(day.isoformat())),
                       f"{zone} fall back {day}: {hour}:30 fires once, at its first occurrence",
                       str(fires))
        fires = self.preview("*/15 * * * *", "UTC", 100)
        self.check(len(fires) == 100 and all(f["local"].endswith("+00:00") for f in fires),
                   "count 100 gives 100 fires", str(len(fires)))
        for body, word in [({"cron": "0 20 32 * *"}, "day-of-month"),
                           ({"cron": "* * * * *", "count": 0}, "count"),
                           ({"cron": "* * * * *", "count": 101}, "count"),
                           ({"cron": "* * * * *", "time_zone": "Mars/Base"}, "time_zone"),
                           ({"cron": "0 0 30 2 *"}, "never fires"),
                           ({"time_zone": "UTC"}, "cron"),
                           ({"cron": "* * * * *", "name": "x"}, "unknown field")]:
            a = self.call("POST", "/v1/schedules/preview", body)
            self.check(a.status == 400 and word in a.message, f"POST preview {body} -> 400 {word!r}",
                       a.short())
        # A stored schedule's preview, for every role.
        s = self.create(name="preview me", cron="15 9 * * *", time_zone="Asia/Kolkata")
        for role in apitest.ROLES:
            a = self.call("GET", f"/v1/schedules/{s['id']}/preview?count=3", role=role)
            ok = a.status == 200 and len(a.json["fires"]) == 3
            if ok:
                f0 = a.json["fires"][0]
                ok = (f0["utc"] == s["next_fire_at"] and f0["local"].endswith("T09:15:00+05:30")
                      and a.json["time_zone"] == "Asia/Kolkata" and a.json["cron"] == "15 9 * * *"
                      and a.json["schedule"] == s["id"] and a.json["enabled"] is True)
            self.check(ok, f"{role}: GET /v1/schedules/{{id}}/preview?count=3 starts at next_fire_at",
                       a.short())
        a = self.call("GET", f"/v1/schedules/{s['id']}/preview")
        self.check(a.status == 200 and len(a.json["fires"]) == 10, "the default count is 10", a.short())
        for q in ("count=0", "count=101", "count=abc", "count=", "bogus=1"):
            a = self.call("GET", f"/v1/schedules/{s['id']}/preview?{q}")
            self.check(a.status == 400, f"preview?{q} -> 400", a.short())
        at = (dt.datetime.now(UTC) + dt.timedelta(hours=5)).replace(microsecond=0)
        o = self.create(name="preview once", run_at=iso(at), time_zone="Europe/Berlin")
        a = self.call("GET", f"/v1/schedules/{o['id']}/preview")
        self.check(a.status == 200 and a.json["fires"] == [{"local": local_text(at, "Europe/Berlin"),
                                                             "utc": iso(at)}] and a.json["cron"] is None,
                   "a one-off's preview is its one fire", a.short())
        a = self.call("GET", f"/v1/schedules/{o['id']}/preview", tenant=self.B)
        self.check(a.status == 404, "tenant B gets 404 for A's preview", a.short())

    # ---- notifications ---------------------------------------------------------------------

    def test_notify(self):
        """The schedules' trigger notifies escher_schedules when the API
        creates a schedule, and not for one created disabled. psql listens
        through a pg_sleep and prints what arrived when the sleep ends."""
        for enabled, want in ((True, True), (False, False)):
            tag = f"notify-{enabled}-{os.urandom(3).hex()}"
            p = subprocess.Popen(["/usr/bin/psql", self.db.url, "-qAt", "-c", "LISTEN escher_schedules",
                                  "-c", f"SELECT pg_sleep(4), '{tag}'", "-c", "SELECT 'end'"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(200):  # until psql sleeps, so it is listening
                if self.db.value("SELECT count(*) FROM pg_stat_activity WHERE query LIKE :'v1'"
                                 " AND pid <> pg_backend_pid()",
                                 f"%pg_sleep(4), '{tag}'%") == "1":
                    break
                time.sleep(0.02)
            self.create(name=tag, cron="* * * * *", enabled=enabled)
            out, _ = p.communicate(timeout=30)
            got = 'notification "escher_schedules"' in out
            self.check(got == want, f"creating a schedule with enabled={enabled} "
                       + ("notifies" if want else "does not notify") + " escher_schedules", out)

    def run(self):
        for name in ("test_create", "test_invalid", "test_read", "test_patch", "test_delete",
                     "test_preview", "test_notify"):
            print(f"== {name}", flush=True)
            try:
                getattr(self, name)()
            except Exception as e:  # one test's crash is a failure, not the end of the suite
                import traceback
                traceback.print_exc()
                self.check(False, f"{name} raised {type(e).__name__}: {e}")


if __name__ == "__main__":
    apitest.main("api_routes_schedules", "sched", lambda stack, routes, res: Suite(stack, res).run())
