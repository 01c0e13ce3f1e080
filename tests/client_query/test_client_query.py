"""`escher ask` on every resource of a query plan (issue 6, item 3).

Volumes, snapshots, buckets, databases, security groups, Elastic IPs and
instances' ages, listed and counted with the local credentials of a member
account's profile (escher-sandbox --aws-config), by region, environment
tag, state and age. Every answer is compared with the sandbox's GET /state;
the call log shows only reads, by the local principal, and the snapshot
listing asking for the account's own snapshots (Owner=self) although another
account's public snapshot is visible in the region. The world is the seed's
with tags, more volumes and databases than one page holds (DescribeVolumes
pages at 500 here, DescribeDBInstances at 100) and a public snapshot of the
other member added. AWS errors: a principal without the permission, and
injected 500s for a whole service and for one region. Standard library only.

usage: test_client_query.py ESCHER ESCHER_SANDBOX
"""
import datetime
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import e2elib  # noqa: E402
from e2elib import check, need  # noqa: E402

ESCHER, SANDBOX = sys.argv[1], sys.argv[2]
READS = {"GetCallerIdentity", "DescribeVolumes", "DescribeSnapshots", "DescribeSecurityGroups",
         "DescribeAddresses", "DescribeDBInstances", "DescribeInstances", "ListBuckets",
         "GetBucketLocation"}


def tags(x):
    return {t["Key"]: t["Value"] for t in x.get("tags") or []}


def when(s):
    return datetime.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def older(s, days):
    return time.time() - when(s) > days * 86400


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def vol_state(v):
    return "in-use" if v.get("instance_id") else "available"


def put_faults(sbx, body):
    conn = http.client.HTTPConnection("127.0.0.1", sbx.admin_port, timeout=30)
    try:
        conn.request("PUT", "/faults", json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    need(resp.status == 200, "sandbox PUT /faults", f"{resp.status} {raw[:300]!r}")


def tailor(world, acct, other):
    """Tags, bulk volumes and databases, and a public snapshot of the other
    member: what the seed's world lacks for these questions."""
    now = time.time()
    member = next(a for a in world["accounts"] if a["id"] == acct)
    for reg in member["regions"]:
        for i, v in enumerate(reg["volumes"]):
            if i % 3 == 0:
                v["tags"] = [t for t in v["tags"] if t["Key"] != "env"] + [
                    {"Key": "env", "Value": "dev"}]
            elif i % 5 == 0:
                v["tags"] = [t for t in v["tags"] if t["Key"] != "env"] + [
                    {"Key": "env", "Value": "prod"}]
        loose = [v for v in reg["volumes"] if not v.get("instance_id")]
        if loose:
            loose[0]["tags"] = [t for t in loose[0]["tags"] if t["Key"] != "env"] + [
                {"Key": "env", "Value": "prod"}]
        if reg["snapshots"]:
            reg["snapshots"][0]["tags"].append({"Key": "env", "Value": "dev"})
        if reg["sgs"]:
            reg["sgs"][-1]["tags"].append({"Key": "env", "Value": "dev"})
        if reg["addresses"]:
            reg["addresses"][0]["tags"] += [{"Key": "env", "Value": "prod"},
                                            {"Key": "Name", "Value": "web-ip"}]
        if reg["name"] != "eu-west-1":
            continue
        proto = next(v for v in reg["volumes"])
        for n in range(600):
            v = dict(proto)
            v["id"] = f"vol-b{n:016x}"
            v["instance_id"] = None
            v["device"] = None
            v["size_gib"] = 10 + n % 7
            v["type"] = "gp3" if n % 2 else "gp2"
            v["create_time"] = iso(now - (400 if n % 4 == 0 else 2) * 86400)
            v["tags"] = [{"Key": "Name", "Value": f"bulk-{n}"}] + (
                [{"Key": "env", "Value": "dev"}] if n % 10 == 0 else [])
            reg["volumes"].append(v)
        us = next(r for r in member["regions"] if r["name"] == "us-east-1")
        dbproto = us["dbs"][0]
        for n in range(130):
            d = dict(dbproto)
            d["id"] = f"bulk-db-{n}"
            d["arn"] = f"arn:aws:rds:eu-west-1:{acct}:db:bulk-db-{n}"
            d["az"] = "eu-west-1a"
            d["status"] = "stopped" if n % 3 == 0 else "available"
            d["transition_at"] = None
            d["create_time"] = iso(now - (90 if n % 5 < 3 else 10) * 86400)
            d["tags"] = [{"Key": "env", "Value": "dev" if n % 4 == 0 else "prod"}]
            reg["dbs"].append(d)
    om = next(a for a in world["accounts"] if a["id"] == other)
    ous = next(r for r in om["regions"] if r["name"] == "us-east-1")
    need(ous["snapshots"], "the other member has a snapshot in us-east-1")
    ous["snapshots"][0]["is_public"] = True
    return ous["snapshots"][0]["id"]


def main():
    tmp = tempfile.mkdtemp(prefix="escher-query-")
    sbx = e2elib.start_sandbox(SANDBOX, tmp, "sandbox-seed",
                               ["--accounts", "2", "--regions", "us-east-1,eu-west-1",
                                "--seed", "7", "--external-id", "query-test-0001",
                                "--aws-config", os.path.join(tmp, "aws-seed")])
    try:
        world = sbx.admin("GET", "/state")
    finally:
        sbx.proc.stop()
    members = [a["id"] for a in world["accounts"] if not a["is_management"]]
    need(len(members) == 2, "two member accounts", json.dumps(members))
    acct, other = members
    public_snap = tailor(world, acct, other)
    world_file = os.path.join(tmp, "world.json")
    with open(world_file, "w") as f:
        json.dump(world, f)
    aws_dir = os.path.join(tmp, "aws")
    sbx = e2elib.start_sandbox(SANDBOX, tmp, "sandbox",
                               ["--world", world_file, "--aws-config", aws_dir])
    try:
        run(sbx, acct, other, aws_dir, tmp, public_snap)
    finally:
        sbx.proc.stop()
    return e2elib.report()


def run(sbx, acct, other_acct, aws_dir, tmp, public_snap):
    state = sbx.admin("GET", "/state")
    member = next(a for a in state["accounts"] if a["id"] == acct)
    principal = f"arn:aws:iam::{acct}:user/Administrator"

    def region(name):
        return next(r for r in member["regions"] if r["name"] == name)

    home = os.path.join(tmp, "home")
    os.makedirs(home)
    env = e2elib.client_env(home, aws_dir)

    def ask(sentence, *opts, profile=None, output="json"):
        cmd = [ESCHER, "--profile", profile or f"acct-{acct}", "--endpoint-url", sbx.endpoint,
               "--output", output, *opts, "ask", sentence]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        check(not e2elib.SANITIZER_RE.search(p.stderr), f"no sanitizer report: {sentence}",
              p.stderr[-2000:])
        return p

    def rows_of(p):
        try:
            v = json.loads(p.stdout)
        except ValueError:
            return None
        return v if isinstance(v, list) else None

    def count_of(p):
        try:
            return json.loads(p.stdout).get("count")
        except (ValueError, AttributeError):
            return None

    def listing(sentence, want, key="id", *opts):
        """A list answer: exit 0 and exactly the wanted keys (never none,
        which would prove little); the rows."""
        need(want, f"{sentence}: the world has something to find")
        p = ask(sentence, *opts)
        rows = rows_of(p)
        got = sorted(r.get(key) for r in rows) if rows is not None else None
        check(p.returncode == 0 and got == sorted(want),
              f"{sentence}: exactly the {len(want)} expected",
              f"rc {p.returncode} want {sorted(want)[:5]}.. got {got and got[:5]}.. "
              f"({got and len(got)}) {p.stderr[-300:]}")
        return rows or [], p

    def counting(sentence, want, *opts):
        p = ask(sentence, *opts)
        check(p.returncode == 0 and count_of(p) == want, f"{sentence}: count {want}",
              f"rc {p.returncode} got {p.stdout.strip()!r} {p.stderr[-300:]}")
        return p

    seen = []

    def drain():
        """The calls since the last drain, kept for the call-log checks."""
        calls = sbx.admin("GET", "/calls")["calls"]
        seen.extend(calls)
        sbx.admin("DELETE", "/calls")
        return calls

    sbx.admin("DELETE", "/calls")

    # ---- volumes
    e2elib.phase("volumes")
    eu, us = region("eu-west-1"), region("us-east-1")
    want = [v["id"] for v in eu["volumes"] if vol_state(v) == "available"]
    check(len(want) > 500, "more unattached volumes in eu-west-1 than one page", str(len(want)))
    rows, _ = listing("list unattached volumes in eu-west-1", want)
    byid = {v["id"]: v for v in eu["volumes"]}
    check(rows and all(r["account"] == acct and r["region"] == "eu-west-1"
                       and r["state"] == "available" and r["instance"] is None
                       and r["size"] == byid[r["id"]]["size_gib"]
                       and r["type"] == byid[r["id"]]["type"]
                       and when(r["created"]) == when(byid[r["id"]]["create_time"])
                       and r["name"] == tags(byid[r["id"]]).get("Name")
                       for r in rows), "volumes: every column as the sandbox has it",
          json.dumps(rows[:1]))
    pages = [c for c in drain() if c["action"] == "DescribeVolumes"]
    check(len(pages) >= 2 and "NextToken" in pages[-1]["params"],
          "volumes: later pages sent the NextToken", json.dumps([c["params"] for c in pages])[:300])
    counting("how many attached volumes in us-east-1",
             sum(1 for v in us["volumes"] if vol_state(v) == "in-use"))
    rows, _ = listing("list dev volumes in eu-west-1 and us-east-1",
                      [v["id"] for r in (eu, us) for v in r["volumes"]
                       if tags(v).get("env") == "dev"])
    check({r["region"] for r in rows} == {"eu-west-1", "us-east-1"},
          "dev volumes: rows from both regions")
    counting("count volumes older than 90 days in eu-west-1",
             sum(1 for v in eu["volumes"] if older(v["create_time"], 90)))
    listing("list unattached prod volumes in us-east-1",
            [v["id"] for v in us["volumes"]
             if vol_state(v) == "available" and tags(v).get("env") == "prod"])

    some = next(v for v in eu["volumes"] if v["id"].startswith("vol-b"))
    listing(f"show volume {some['id']} in eu-west-1", [some["id"]])
    listing("list volumes named bulk-1* in eu-west-1",
            [v["id"] for v in eu["volumes"] if tags(v).get("Name", "").startswith("bulk-1")])
    counting(f"how many volumes in account {acct} in eu-west-1", len(eu["volumes"]))
    drain()
    p = ask(f"list volumes in account {other_acct} in eu-west-1")
    check(p.returncode == 0 and rows_of(p) == []
          and f"the local credentials are in account {acct}" in p.stderr,
          "another account named: nothing listed, and why", f"{p.stdout!r} {p.stderr}")
    check([c["action"] for c in drain()] == ["GetCallerIdentity"],
          "another account named: no listing call")

    # ---- snapshots: the account's own, not another account's public one
    e2elib.phase("snapshots")
    drain()
    counting("how many snapshots are there in us-east-1", len(us["snapshots"]))
    rows, _ = listing("list snapshots in us-east-1", [s["id"] for s in us["snapshots"]])
    check(public_snap not in [r.get("id") for r in rows],
          "snapshots: another account's public snapshot is not listed", public_snap)
    sbyid = {s["id"]: s for s in us["snapshots"]}
    check(rows and all(r["volume"] == sbyid[r["id"]]["volume_id"]
                       and r["size"] == sbyid[r["id"]]["size_gib"]
                       and r["state"] == "completed"
                       and when(r["started"]) == when(sbyid[r["id"]]["start_time"])
                       for r in rows), "snapshots: volume, size, state, start as the sandbox has",
          json.dumps(rows[:1]))
    calls = [c for c in drain() if c["action"] == "DescribeSnapshots"]
    check(calls and all(c["params"].get("Owner.1") == "self" for c in calls),
          "snapshots: asked with Owner=self", json.dumps([c["params"] for c in calls])[:300])
    listing("list dev snapshots in eu-west-1",
            [s["id"] for s in eu["snapshots"] if tags(s).get("env") == "dev"])
    listing("list snapshots older than 180 days in eu-west-1",
            [s["id"] for s in eu["snapshots"] if older(s["start_time"], 180)])

    # ---- databases
    e2elib.phase("databases")
    drain()
    p = counting("how many databases in eu-west-1", len(eu["dbs"]))
    pages = [c for c in drain() if c["action"] == "DescribeDBInstances"]
    check(len(eu["dbs"]) > 100 and len(pages) >= 2 and "Marker" in pages[-1]["params"],
          "databases: paged with Marker", json.dumps([c["params"] for c in pages])[:300])
    rows, p = listing("show me databases older than 30 days",
                      [d["id"] for d in us["dbs"] if older(d["create_time"], 30)])
    check("no region named; answering for us-east-1" in p.stderr,
          "databases: says which region answered", p.stderr)
    dbyid = {d["id"]: d for d in us["dbs"]}
    check(rows and all(r["engine"] == dbyid[r["id"]]["engine"]
                       and r["class"] == dbyid[r["id"]]["instance_class"]
                       and r["state"] == dbyid[r["id"]]["status"]
                       and when(r["created"]) == when(dbyid[r["id"]]["create_time"])
                       for r in rows), "databases: engine, class, state, created",
          json.dumps(rows[:1]))
    listing("list running databases in us-east-1",
            [d["id"] for d in us["dbs"] if d["status"] == "available"])
    listing("list stopped databases in eu-west-1",
            [d["id"] for d in eu["dbs"] if d["status"] == "stopped"])
    listing("list dev databases in eu-west-1 older than 30 days",
            [d["id"] for d in eu["dbs"]
             if tags(d).get("env") == "dev" and older(d["create_time"], 30)])

    # ---- security groups
    e2elib.phase("security groups")
    rows, _ = listing("list security groups in eu-west-1", [g["id"] for g in eu["sgs"]])
    gbyid = {g["id"]: g for g in eu["sgs"]}
    check(rows and all(r["name"] == gbyid[r["id"]]["name"]
                       and r["vpc"] == gbyid[r["id"]]["vpc_id"]
                       and r["description"] == gbyid[r["id"]]["description"]
                       and r["inbound"] == len(gbyid[r["id"]]["ingress"])
                       and r["outbound"] == len(gbyid[r["id"]]["egress"])
                       for r in rows), "security groups: name, vpc, description, rule counts",
          json.dumps(rows[:2]))
    counting("how many security groups in us-east-1", len(us["sgs"]))
    listing("list dev security groups in us-east-1",
            [g["id"] for g in us["sgs"] if tags(g).get("env") == "dev"])
    listing("list security groups named web* in eu-west-1",
            [g["id"] for g in eu["sgs"] if g["name"].startswith("web")])

    # ---- Elastic IPs
    e2elib.phase("elastic ips")
    rows, p = listing("list elastic ips", [a["allocation_id"] for a in us["addresses"]],
                      "allocation_id")
    abyid = {a["allocation_id"]: a for a in us["addresses"]}
    check(rows and all(r["public_ip"] == abyid[r["allocation_id"]]["public_ip"]
                       and r["instance"] == abyid[r["allocation_id"]]["instance_id"]
                       for r in rows), "elastic ips: public ip and associated instance",
          json.dumps(rows[:2]))
    check("answering for us-east-1" in p.stderr, "elastic ips: says which region", p.stderr)
    listing("list unattached elastic ips in eu-west-1",
            [a["allocation_id"] for a in eu["addresses"] if not a["instance_id"]],
            "allocation_id")
    listing("list prod elastic ips in eu-west-1 and us-east-1",
            [a["allocation_id"] for r in (eu, us) for a in r["addresses"]
             if tags(a).get("env") == "prod"], "allocation_id")
    counting("how many elastic ips in eu-west-1", len(eu["addresses"]))

    # ---- buckets: one global listing
    e2elib.phase("buckets")
    rows, p = listing("list buckets", [b["name"] for b in member["buckets"]], "name")
    bbyname = {b["name"]: b for b in member["buckets"]}
    check(rows and all(r["region"] == bbyname[r["name"]]["region"]
                       and when(r["created"]) == when(bbyname[r["name"]]["create_time"])
                       and r["account"] == acct for r in rows),
          "buckets: region and creation as the sandbox has", json.dumps(rows[:2]))
    check("buckets are global" in p.stderr, "buckets: says the listing is global", p.stderr)
    drain()
    listing("list buckets in eu-west-1",
            [b["name"] for b in member["buckets"] if b["region"] == "eu-west-1"], "name",
            "--region", "eu-west-1")
    locs = [c for c in drain() if c["action"] == "GetBucketLocation"]
    check(len(locs) == len(member["buckets"]) and all(c["region"] == "us-east-1" for c in locs),
          "buckets: one GetBucketLocation each, asked in us-east-1 whatever the default region",
          json.dumps([(c["region"], c["status"]) for c in locs]))
    counting("how many buckets older than 365 days",
             sum(1 for b in member["buckets"] if older(b["create_time"], 365)))

    # ---- instances by age (launch time)
    e2elib.phase("instances by age")
    rows, _ = listing("list instances older than 100 days in eu-west-1",
                      [i["id"] for i in eu["instances"] if older(i["launch_time"], 100)])
    check(rows and set(rows[0]) == {"account", "region", "id", "name", "state", "type"},
          "instances by age: the listing's columns", json.dumps(rows[:1]))
    counting("how many running instances older than 30 days in us-east-1",
             sum(1 for i in us["instances"]
                 if i["state"] == "running" and older(i["launch_time"], 30)))

    # ---- table and csv
    e2elib.phase("table and csv")
    p = ask("list security groups in eu-west-1", output="table")
    lines = p.stdout.splitlines()
    check(p.returncode == 0 and lines and lines[0].split()[:4] == ["account", "region", "id", "name"]
          and all(g["id"] in p.stdout for g in eu["sgs"]) and len(lines) == len(eu["sgs"]) + 1,
          "table: header and one line per group", p.stdout[:400])
    p = ask("list unattached volumes in us-east-1", output="csv")
    lines = p.stdout.strip().splitlines()
    n = sum(1 for v in us["volumes"] if vol_state(v) == "available")
    check(p.returncode == 0 and lines
          and lines[0] == "account,region,id,name,state,size,type,instance,created"
          and len(lines) == n + 1, "csv: header and one row per volume", p.stdout[:400])

    # ---- what a resource does not have: refused before any call
    e2elib.phase("refusals")
    drain()
    for sentence, says in (("list stopped buckets", "buckets have no state"),
                           ("show me security groups older than 30 days",
                            "cannot be filtered by age"),
                           ("list dev buckets", "does not read the tags of buckets"),
                           ("list running volumes in eu-west-1", "is not a state of volumes")):
        p = ask(sentence)
        check(p.returncode == 2 and says in p.stderr and p.stdout == "",
              f"refused: {sentence}", f"rc {p.returncode} {p.stderr}")
    check(drain() == [], "refusals: no AWS call")
    calls = seen

    # ---- AWS errors
    e2elib.phase("errors")
    p = ask("list volumes in eu-west-1", profile="hub")
    check(p.returncode == 1 and "DescribeVolumes in eu-west-1" in p.stderr
          and "UnauthorizedOperation" in p.stderr and p.stdout == "",
          "a principal without ec2:DescribeVolumes: exit 1 with AWS's error",
          f"rc {p.returncode} {p.stderr}")
    put_faults(sbx, {"rules": [{"service": "rds", "error_rate": 1.0}]})
    p = ask("how many databases in us-east-1")
    check(p.returncode == 1 and "DescribeDBInstances in us-east-1" in p.stderr
          and p.stdout == "", "RDS answering 500s: exit 1 with the error",
          f"rc {p.returncode} {p.stdout!r} {p.stderr}")
    put_faults(sbx, {"rules": [{"service": "ec2", "region": "eu-west-1", "error_rate": 1.0}]})
    p = ask("list elastic ips in us-east-1 and eu-west-1")
    rows = rows_of(p)
    check(p.returncode == 3 and "DescribeAddresses in eu-west-1" in p.stderr and rows is not None
          and sorted(r["allocation_id"] for r in rows)
          == sorted(a["allocation_id"] for a in us["addresses"]),
          "one region failing: exit 3, the other region's rows and the error",
          f"rc {p.returncode} {p.stdout[:200]!r} {p.stderr}")
    put_faults(sbx, {"rules": []})

    check(calls and all(c["principal_arn"] == principal and c["assumed_role_arn"] is None
                        for c in calls),
          "call log: the local profile's principal, no Escher role",
          json.dumps(sorted({(c["principal_arn"], c["assumed_role_arn"]) for c in calls})))
    check(calls and all(c["action"] in READS for c in calls),
          "call log: reads only", json.dumps(sorted({c["action"] for c in calls})))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except e2elib.Stop:
        sys.exit(e2elib.report())
