"""RDS (query protocol) in escher-sandbox with boto3 and the AWS CLI:
DescribeDBInstances (ids, ARNs, Marker/MaxRecords paging), Stop/Start with
RDS's state rules and CreateDBSnapshot, checked against the world's own
state (GET /state)."""

import copy
import json
import os
import tempfile

from harness import Sandbox, SandboxTestCase, main


def profile_of(account):
    return "mgmt" if account["is_management"] else "acct-" + account["id"]


class RdsTest(SandboxTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        status, cls.state = cls.sb.admin("GET", "/state")
        assert status == 200
        # (account, region name, db) for every database of the world.
        cls.dbs = [(a, r["name"], d) for a in cls.state["accounts"] for r in a["regions"]
                   for d in r["dbs"]]
        cls.taken = set()

    def pick(self, status):
        """A database in `status` no other test has used."""
        for a, region, d in self.dbs:
            if d["status"] == status and d["arn"] not in self.taken:
                self.taken.add(d["arn"])
                return a, region, d
        self.skipTest(f"the world has no more {status} databases")

    def rds(self, account, region):
        return self.sb.client("rds", profile_of(account), region=region)

    # ---- DescribeDBInstances ----

    def test_describe_matches_world(self):
        for a in self.state["accounts"]:
            for r in a["regions"]:
                got = self.rds(a, r["name"]).describe_db_instances()["DBInstances"]
                self.assertEqual([d["DBInstanceIdentifier"] for d in got],
                                 [d["id"] for d in r["dbs"]])
                for g, w in zip(got, r["dbs"]):
                    self.assertEqual(g["DBInstanceArn"], w["arn"])
                    self.assertEqual(g["DBInstanceClass"], w["instance_class"])
                    self.assertEqual(g["Engine"], w["engine"])
                    self.assertEqual(g["EngineVersion"], w["engine_version"])
                    self.assertEqual(g["PubliclyAccessible"], w["publicly_accessible"])
                    self.assertEqual(g["StorageEncrypted"], w["storage_encrypted"])
                    self.assertEqual(g["MultiAZ"], w["multi_az"])
                    self.assertEqual(g["AllocatedStorage"], w["allocated_storage"])
                    self.assertEqual(g["AvailabilityZone"], w["az"])
                    self.assertEqual(g["InstanceCreateTime"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                                     w["create_time"])
                    self.assertEqual({t["Key"]: t["Value"] for t in g["TagList"]},
                                     {t["Key"]: t["Value"] for t in w["tags"]})
                    self.assertIn(r["name"], g["Endpoint"]["Address"])
        self.assertTrue(any(d["publicly_accessible"] for _, _, d in self.dbs))
        self.assertTrue(any(not d["storage_encrypted"] for _, _, d in self.dbs))

    def test_describe_cli(self):
        a, region, d = self.dbs[0]
        rc, out, err = self.sb.aws("rds", "describe-db-instances", profile=profile_of(a),
                                   region=region)
        self.assertEqual(rc, 0, err)
        ids = [x["DBInstanceIdentifier"] for x in out["DBInstances"]]
        self.assertIn(d["id"], ids)
        rc, out, err = self.sb.aws("rds", "describe-db-instances", "--db-instance-identifier",
                                   d["id"], profile=profile_of(a), region=region)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["DBInstances"][0]["DBInstanceArn"], d["arn"])

    def test_describe_by_id_and_arn(self):
        a, region, d = self.dbs[-1]
        rds = self.rds(a, region)
        for ident in (d["id"], d["arn"]):
            got = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"]
            self.assertEqual([x["DBInstanceIdentifier"] for x in got], [d["id"]])

    def test_describe_unknown(self):
        a, region, _ = self.dbs[0]
        r = self.assertClientError("DBInstanceNotFound", self.rds(a, region).describe_db_instances,
                                   DBInstanceIdentifier="no-such-db")
        self.assertEqual(r["Error"]["Message"], "DBInstance no-such-db not found.")
        self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 404)
        rc, _, err = self.sb.aws("rds", "describe-db-instances", "--db-instance-identifier",
                                 "no-such-db", profile=profile_of(a), region=region)
        self.assertCliError("DBInstanceNotFound", rc, err)

    def test_filters(self):
        a, region, d = self.dbs[0]
        rds = self.rds(a, region)
        here = [x for b, r, x in self.dbs if b["id"] == a["id"] and r == region]
        got = rds.describe_db_instances(Filters=[{"Name": "engine", "Values": [d["engine"]]}])
        self.assertEqual([x["DBInstanceIdentifier"] for x in got["DBInstances"]],
                         [x["id"] for x in here if x["engine"] == d["engine"]])
        got = rds.describe_db_instances(Filters=[{"Name": "db-instance-id",
                                                  "Values": [d["arn"], "other"]}])
        self.assertEqual([x["DBInstanceIdentifier"] for x in got["DBInstances"]], [d["id"]])
        got = rds.describe_db_instances(Filters=[{"Name": "engine", "Values": ["db2"]}])
        self.assertEqual(got["DBInstances"], [])
        self.assertClientError("InvalidParameterValue", rds.describe_db_instances,
                               Filters=[{"Name": "colour", "Values": ["blue"]}])
        rc, out, err = self.sb.aws("rds", "describe-db-instances", "--filters",
                                   f"Name=db-instance-id,Values={d['id']}",
                                   profile=profile_of(a), region=region)
        self.assertEqual(rc, 0, err)
        self.assertEqual([x["DBInstanceIdentifier"] for x in out["DBInstances"]], [d["id"]])

    def test_max_records_bounds(self):
        a, region, _ = self.dbs[0]
        rds = self.rds(a, region)
        for bad in (19, 101):
            self.assertClientError("InvalidParameterValue", rds.describe_db_instances,
                                   MaxRecords=bad)
        self.assertClientError("InvalidParameterValue", rds.describe_db_instances,
                               Marker="not-a-marker")

    # ---- Stop / Start ----

    def test_stop_then_start(self):
        a, region, d = self.pick("available")
        rds = self.rds(a, region)
        out = rds.stop_db_instance(DBInstanceIdentifier=d["id"])["DBInstance"]
        self.assertEqual(out["DBInstanceStatus"], "stopping")
        self.assertEqual(out["DBInstanceIdentifier"], d["id"])
        status = rds.describe_db_instances(DBInstanceIdentifier=d["id"])["DBInstances"][0]
        self.assertEqual(status["DBInstanceStatus"], "stopping")
        # Stopping an instance that is not available is refused.
        r = self.assertClientError("InvalidDBInstanceState", rds.stop_db_instance,
                                   DBInstanceIdentifier=d["id"])
        self.assertEqual(r["Error"]["Message"], f"Instance {d['id']} is not in available state.")
        self.sb.advance_clock(60)
        status = rds.describe_db_instances(DBInstanceIdentifier=d["id"])["DBInstances"][0]
        self.assertEqual(status["DBInstanceStatus"], "stopped")
        out = rds.start_db_instance(DBInstanceIdentifier=d["id"])["DBInstance"]
        self.assertEqual(out["DBInstanceStatus"], "starting")
        self.assertClientError("InvalidDBInstanceState", rds.start_db_instance,
                               DBInstanceIdentifier=d["id"])
        self.sb.advance_clock(60)
        status = rds.describe_db_instances(DBInstanceIdentifier=d["id"])["DBInstances"][0]
        self.assertEqual(status["DBInstanceStatus"], "available")

    def test_start_available_refused_cli(self):
        a, region, d = self.pick("available")
        rc, _, err = self.sb.aws("rds", "start-db-instance", "--db-instance-identifier", d["id"],
                                 profile=profile_of(a), region=region)
        self.assertCliError("InvalidDBInstanceState", rc, err)

    def test_stop_cli_with_snapshot(self):
        a, region, d = self.pick("available")
        rc, out, err = self.sb.aws("rds", "stop-db-instance", "--db-instance-identifier", d["id"],
                                   "--db-snapshot-identifier", d["id"] + "-at-stop",
                                   profile=profile_of(a), region=region)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["DBInstance"]["DBInstanceStatus"], "stopping")
        # The snapshot taken at stop now exists.
        r = self.assertClientError("DBSnapshotAlreadyExists",
                                   self.rds(a, region).create_db_snapshot,
                                   DBInstanceIdentifier=d["id"],
                                   DBSnapshotIdentifier=d["id"] + "-at-stop")
        self.assertIn(d["id"] + "-at-stop", r["Error"]["Message"])

    def test_start_stopped_cli(self):
        a, region, d = self.pick("stopped")
        rc, out, err = self.sb.aws("rds", "start-db-instance", "--db-instance-identifier", d["id"],
                                   profile=profile_of(a), region=region)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["DBInstance"]["DBInstanceStatus"], "starting")

    def test_stop_unknown(self):
        a, region, _ = self.dbs[0]
        self.assertClientError("DBInstanceNotFound", self.rds(a, region).stop_db_instance,
                               DBInstanceIdentifier="no-such-db")

    def test_read_only_role_cannot_stop(self):
        """EscherReadOnly describes but may not stop: AccessDenied, state unchanged."""
        a, region, d = self.pick("available")
        creds = self.sb.client("sts", "hub").assume_role(
            RoleArn=f"arn:aws:iam::{a['id']}:role/EscherReadOnly", RoleSessionName="rds-ro",
            ExternalId=self.sb.external_id)["Credentials"]
        rds = self.sb.client_with_keys("rds", creds["AccessKeyId"], creds["SecretAccessKey"],
                                       creds["SessionToken"], region=region)
        got = rds.describe_db_instances(DBInstanceIdentifier=d["id"])["DBInstances"]
        self.assertEqual(got[0]["DBInstanceStatus"], "available")
        r = self.assertClientError("AccessDenied", rds.stop_db_instance,
                                   DBInstanceIdentifier=d["id"])
        self.assertIn("rds:StopDBInstance", r["Error"]["Message"])
        self.assertIn(d["arn"], r["Error"]["Message"])
        got = self.rds(a, region).describe_db_instances(DBInstanceIdentifier=d["id"])
        self.assertEqual(got["DBInstances"][0]["DBInstanceStatus"], "available")

    # ---- CreateDBSnapshot ----

    def test_create_snapshot(self):
        a, region, d = self.dbs[0]
        rds = self.rds(a, region)
        snap = rds.create_db_snapshot(DBInstanceIdentifier=d["id"],
                                      DBSnapshotIdentifier="escher-test-snap-1")["DBSnapshot"]
        self.assertEqual(snap["DBSnapshotIdentifier"], "escher-test-snap-1")
        self.assertEqual(snap["DBInstanceIdentifier"], d["id"])
        self.assertEqual(snap["Status"], "creating")
        self.assertEqual(snap["SnapshotType"], "manual")
        self.assertEqual(snap["Engine"], d["engine"])
        self.assertEqual(snap["Encrypted"], d["storage_encrypted"])
        self.assertEqual(snap["DBSnapshotArn"],
                         f"arn:aws:rds:{region}:{a['id']}:snapshot:escher-test-snap-1")
        r = self.assertClientError("DBSnapshotAlreadyExists", rds.create_db_snapshot,
                                   DBInstanceIdentifier=d["id"],
                                   DBSnapshotIdentifier="escher-test-snap-1")
        self.assertEqual(r["Error"]["Message"],
                         "Cannot create the snapshot because a snapshot with the identifier "
                         "escher-test-snap-1 already exists.")
        self.assertClientError("InvalidParameterValue", rds.create_db_snapshot,
                               DBInstanceIdentifier=d["id"], DBSnapshotIdentifier="bad--name")
        self.assertClientError("DBInstanceNotFound", rds.create_db_snapshot,
                               DBInstanceIdentifier="no-such-db",
                               DBSnapshotIdentifier="escher-test-snap-2")
        status, state = self.sb.admin("GET", "/state")
        acct = next(x for x in state["accounts"] if x["id"] == a["id"])
        reg = next(x for x in acct["regions"] if x["name"] == region)
        self.assertIn("escher-test-snap-1", [s["id"] for s in reg["db_snapshots"]])

    def test_create_snapshot_cli(self):
        a, region, d = self.dbs[-1]
        rc, out, err = self.sb.aws("rds", "create-db-snapshot", "--db-instance-identifier",
                                   d["id"], "--db-snapshot-identifier", "escher-cli-snap",
                                   profile=profile_of(a), region=region)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["DBSnapshot"]["DBSnapshotIdentifier"], "escher-cli-snap")
        rc, out, err = self.sb.aws("rds", "create-db-snapshot", "--db-instance-identifier",
                                   d["id"], "--db-snapshot-identifier", "escher-cli-snap",
                                   profile=profile_of(a), region=region)
        self.assertCliError("DBSnapshotAlreadyExists", rc, err)


class RdsPagingTest(SandboxTestCase):
    """A world loaded from JSON with 45 databases in one region, to page
    through with MaxRecords 20."""

    NDBS = 45

    @classmethod
    def setUpClass(cls):
        gen = Sandbox().start()
        try:
            status, state = gen.admin("GET", "/state")
            assert status == 200
        finally:
            gen.stop()
        mgmt = next(a for a in state["accounts"] if a["is_management"])
        region = mgmt["regions"][0]
        template = next((d for a in state["accounts"] for r in a["regions"] for d in r["dbs"]),
                        None)
        assert template, "the generated world has no database to copy"
        region["dbs"] = []
        for i in range(cls.NDBS):
            d = copy.deepcopy(template)
            d["id"] = f"paged-db-{i:03d}"
            d["arn"] = f"arn:aws:rds:{region['name']}:{mgmt['id']}:db:{d['id']}"
            region["dbs"].append(d)
        cls.region = region["name"]
        cls.tmpdir = tempfile.mkdtemp(prefix="escher-rds-paging-")
        path = os.path.join(cls.tmpdir, "world.json")
        with open(path, "w") as f:
            json.dump(state, f)
        cls.sandbox_options = {"extra_args": ("--world", path)}
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        import shutil
        shutil.rmtree(cls.tmpdir, ignore_errors=True)

    def test_marker_paging_boto3(self):
        rds = self.sb.client("rds", "mgmt", region=self.region)
        seen, marker, pages = [], None, 0
        while True:
            kw = {"MaxRecords": 20}
            if marker:
                kw["Marker"] = marker
            out = rds.describe_db_instances(**kw)
            pages += 1
            self.assertLessEqual(len(out["DBInstances"]), 20)
            seen += [d["DBInstanceIdentifier"] for d in out["DBInstances"]]
            marker = out.get("Marker")
            if not marker:
                break
        self.assertEqual(pages, 3)
        self.assertEqual(seen, [f"paged-db-{i:03d}" for i in range(self.NDBS)])
        # The paginator agrees.
        got = [d["DBInstanceIdentifier"]
               for p in rds.get_paginator("describe_db_instances").paginate(
                   PaginationConfig={"PageSize": 20})
               for d in p["DBInstances"]]
        self.assertEqual(got, seen)

    def test_paging_cli(self):
        rc, out, err = self.sb.aws("rds", "describe-db-instances", "--page-size", "20",
                                   profile="mgmt", region=self.region)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out["DBInstances"]), self.NDBS)
        rc, out, err = self.sb.aws("rds", "describe-db-instances", "--max-items", "25",
                                   "--page-size", "20", profile="mgmt", region=self.region)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out["DBInstances"]), 25)
        self.assertIn("NextToken", out)
        rc, out2, err = self.sb.aws("rds", "describe-db-instances", "--starting-token",
                                    out["NextToken"], "--page-size", "20", profile="mgmt",
                                    region=self.region)
        self.assertEqual(rc, 0, err)
        self.assertEqual([d["DBInstanceIdentifier"] for d in out2["DBInstances"]],
                         [f"paged-db-{i:03d}" for i in range(25, self.NDBS)])


if __name__ == "__main__":
    main()
