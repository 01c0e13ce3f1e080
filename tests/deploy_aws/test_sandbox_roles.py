"""deploy/aws/customer-role.yaml proven on escher-sandbox: a generated
world's EscherOperator and EscherReadOnly roles (in every account) are
replaced by the template's, rendered with the world's hub user and a new
ExternalId, the world is loaded with --world, and boto3 from the hub
profile shows what each role can and cannot do."""

import json
import os
import sys
import tempfile
import unittest
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "sandbox"))

import cfn  # noqa: E402
from harness import Sandbox  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

REGION = "us-east-1"
OLD_EXTERNAL_ID = "generated-external-id-0001"
# 40 characters, every punctuation mark AWS allows in an ExternalId.
EXTERNAL_ID = "Escher+tenant=a,b.c@d:e/f_g-0123456789ab"
assert len(EXTERNAL_ID) >= 32

# Every read action the template grants, as a boto3 call on the sandbox,
# or None where the sandbox does not simulate the operation (then only the
# botocore name check in test_templates.py covers it). A grant added to the
# template fails test_every_grant_is_exercised until it is listed here.
NOT_SIMULATED = {"rds:DescribeDBSnapshots"}


def _first_bucket(t):
    return t.client("s3").list_buckets()["Buckets"][0]["Name"]


READ_CALLS = {
    "ec2:DescribeRegions": lambda t: t.client("ec2").describe_regions(),
    "ec2:DescribeInstances": lambda t: t.client("ec2").describe_instances(),
    "ec2:DescribeVolumes": lambda t: t.client("ec2").describe_volumes(),
    "ec2:DescribeSnapshots": lambda t: t.client("ec2").describe_snapshots(OwnerIds=["self"]),
    "ec2:DescribeSnapshotAttribute": lambda t: t.client("ec2").describe_snapshot_attribute(
        SnapshotId=t.world_region["snapshots"][0]["id"], Attribute="createVolumePermission"),
    "ec2:DescribeSecurityGroups": lambda t: t.client("ec2").describe_security_groups(),
    "ec2:DescribeAddresses": lambda t: t.client("ec2").describe_addresses(),
    "ec2:GetEbsEncryptionByDefault": lambda t: t.client("ec2").get_ebs_encryption_by_default(),
    "rds:DescribeDBInstances": lambda t: t.client("rds").describe_db_instances(),
    "s3:ListAllMyBuckets": lambda t: t.client("s3").list_buckets(),
    "s3:GetBucketLocation": lambda t: t.client("s3").get_bucket_location(Bucket=_first_bucket(t)),
    "s3:GetBucketPublicAccessBlock": lambda t: t.client("s3").get_public_access_block(
        Bucket=_first_bucket(t)),
    "s3:GetBucketPolicyStatus": lambda t: t.client("s3").get_bucket_policy_status(
        Bucket=_first_bucket(t)),
    "s3:GetEncryptionConfiguration": lambda t: t.client("s3").get_bucket_encryption(
        Bucket=_first_bucket(t)),
    "iam:ListUsers": lambda t: t.client("iam").list_users(),
    "iam:ListAccessKeys": lambda t: t.client("iam").list_access_keys(
        UserName=t.world_account["users"][0]["name"]),
    "iam:ListMFADevices": lambda t: t.client("iam").list_mfa_devices(
        UserName=t.world_account["users"][0]["name"]),
    "iam:GenerateCredentialReport": lambda t: t.client("iam").generate_credential_report(),
    "iam:GetCredentialReport": lambda t: t.client("iam").get_credential_report(),
    "iam:GetAccountPasswordPolicy": lambda t: t.client("iam").get_account_password_policy(),
    "iam:GetAccountSummary": lambda t: t.client("iam").get_account_summary(),
    "cloudtrail:DescribeTrails": lambda t: t.client("cloudtrail").describe_trails(),
    "cloudtrail:GetTrailStatus": lambda t: t.client("cloudtrail").get_trail_status(
        Name=t.client("cloudtrail").describe_trails()["trailList"][0]["TrailARN"]),
    "cloudwatch:GetMetricData": lambda t: t.client("cloudwatch").get_metric_data(
        MetricDataQueries=[{"Id": "cpu", "MetricStat": {"Metric": {
            "Namespace": "AWS/EC2", "MetricName": "CPUUtilization", "Dimensions": [
                {"Name": "InstanceId", "Value": t.world_region["instances"][0]["id"]}]},
            "Period": 3600, "Stat": "Average"}}],
        StartTime="2025-01-01T00:00:00Z", EndTime="2025-01-02T00:00:00Z"),
    "ce:GetCostAndUsage": lambda t: t.client("ce").get_cost_and_usage(
        TimePeriod={"Start": t.cost_start, "End": t.cost_end}, Granularity="MONTHLY",
        Metrics=["UnblendedCost"]),
    "ce:GetCostForecast": lambda t: t.client("ce").get_cost_forecast(
        TimePeriod={"Start": t.forecast_start, "End": t.forecast_end}, Granularity="MONTHLY",
        Metric="UNBLENDED_COST"),
    "organizations:DescribeOrganization": lambda t: t.client("organizations").describe_organization(),
    "organizations:ListAccounts": lambda t: t.client("organizations").list_accounts(),
    "organizations:ListRoots": lambda t: t.client("organizations").list_roots(),
    "organizations:ListOrganizationalUnitsForParent": lambda t: t.client(
        "organizations").list_organizational_units_for_parent(ParentId=t.root_id),
    "organizations:ListAccountsForParent": lambda t: t.client(
        "organizations").list_accounts_for_parent(ParentId=t.root_id),
    "autoscaling:DescribeAutoScalingGroups": lambda t: t.client(
        "autoscaling").describe_auto_scaling_groups(),
}

# Errors an allowed call may still answer (the resource simply lacks the
# configuration); never AccessDenied.
BENIGN = {"NoSuchPublicAccessBlockConfiguration", "ServerSideEncryptionConfigurationNotFoundError",
          "NoSuchBucketPolicy", "NoSuchEntity", "ReportNotPresent", "ReportInProgress", "DataUnavailableException"}

DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}


class Target:
    """Clients of one assumed role session in one account."""

    def __init__(self, sb, creds, state, account):
        self.sb, self.creds = sb, creds
        self.world_account = account
        self.world_region = next(r for r in account["regions"] if r["name"] == REGION)
        self.root_id = state["root_id"]
        gen = state["generated_at"][:10]
        y, m = int(gen[:4]), int(gen[5:7])
        self.cost_end = f"{y:04d}-{m:02d}-01"
        py, pm = (y, m - 3) if m > 3 else (y - 1, m + 9)
        self.cost_start = f"{py:04d}-{pm:02d}-01"
        self.forecast_start = gen
        ny, nm = (y, m + 1) if m < 12 else (y + 1, 1)
        self.forecast_end = f"{ny:04d}-{nm:02d}-01"

    def client(self, service):
        c = self.creds
        return self.sb.client_with_keys(service, c["AccessKeyId"], c["SecretAccessKey"],
                                        c["SessionToken"], region=REGION)


def render_world(state):
    """The world with every account's Escher roles as the template makes them."""
    tpl = cfn.load(cfn.ROLE_TEMPLATE)
    hub_arn = state["hub"]["users"][0]["arn"]
    params = {n: p.get("Default") for n, p in tpl["Parameters"].items()}
    params.update({"EscherPrincipalArn": hub_arn, "ExternalId": EXTERNAL_ID,
                   "AWS::Partition": "aws", "AWS::Region": REGION})
    names = {"OperatorRole": params["OperatorRoleName"], "ReadOnlyRole": params["ReadOnlyRoleName"]}
    replaced = 0
    for acct in state["accounts"]:
        values = dict(params, **{"AWS::AccountId": acct["id"]})
        for logical, name in names.items():
            role = next(r for r in acct["roles"] if r["name"] == name)
            trust, docs, duration = cfn.role_documents(tpl, logical, values)
            role["trust_policy"] = json.dumps(trust, separators=(",", ":"))
            role["policies"] = [json.dumps(d, separators=(",", ":")) for d in docs]
            role["max_session_duration"] = duration
            replaced += 1
    assert replaced == 2 * len(state["accounts"]), replaced
    state["external_id"] = EXTERNAL_ID
    return state


class TemplateRolesOnSandbox(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        warnings.simplefilter("ignore", ResourceWarning)
        gen = Sandbox(accounts=2, regions=(REGION,), seed=7, external_id=OLD_EXTERNAL_ID,
                      throttle=False).start()
        try:
            status, state = gen.admin("GET", "/state")
            assert status == 200, state
        finally:
            gen.stop(check=True)
        cls.state = render_world(state)
        cls.tmp = tempfile.mkdtemp(prefix="escher-deploy-aws-")
        cls.world_path = os.path.join(cls.tmp, "world.json")
        with open(cls.world_path, "w") as f:
            json.dump(cls.state, f)
        cls.sb = Sandbox(regions=(REGION,), external_id=EXTERNAL_ID, throttle=False,
                         extra_args=["--world", cls.world_path]).start()
        cls.mgmt = next(a for a in cls.state["accounts"] if a["is_management"])
        cls.member = next(a for a in cls.state["accounts"] if not a["is_management"])
        cls.hub_arn = cls.state["hub"]["users"][0]["arn"]

    @classmethod
    def tearDownClass(cls):
        sb, cls.sb = cls.sb, None
        os.unlink(cls.world_path)
        os.rmdir(cls.tmp)
        if sb:
            sb.stop(check=True)

    def setUp(self):
        warnings.simplefilter("ignore", ResourceWarning)

    # ---- helpers ----

    def role_arn(self, account, name):
        return f"arn:aws:iam::{account['id']}:role/{name}"

    def assume(self, account, name, profile="hub", **kwargs):
        kwargs.setdefault("ExternalId", EXTERNAL_ID)
        sts = self.sb.client("sts", profile, region=REGION)
        return sts.assume_role(RoleArn=self.role_arn(account, name),
                               RoleSessionName="escher-onboarding-test", DurationSeconds=900,
                               **kwargs)["Credentials"]

    def target(self, account, name):
        return Target(self.sb, self.assume(account, name), self.state, account)

    def error_code(self, fn, *args, **kwargs):
        try:
            fn(*args, **kwargs)
        except ClientError as e:
            return e.response["Error"]["Code"], e.response["Error"].get("Message", "")
        return None, ""

    def assertDenied(self, fn, *args, **kwargs):
        code, msg = self.error_code(fn, *args, **kwargs)
        self.assertIn(code, DENIED, msg)
        return msg

    def assertAllowed(self, fn, *args, **kwargs):
        code, msg = self.error_code(fn, *args, **kwargs)
        self.assertTrue(code is None or code in BENIGN, f"{code}: {msg}")

    # ---- trust ----

    def test_assume_with_external_id(self):
        for account in (self.member, self.mgmt):
            for name in ("EscherOperator", "EscherReadOnly"):
                t = self.target(account, name)
                ident = t.client("sts").get_caller_identity()
                self.assertEqual(ident["Account"], account["id"])
                self.assertTrue(ident["Arn"].startswith(
                    f"arn:aws:sts::{account['id']}:assumed-role/{name}/"), ident)

    def test_source_identity_and_session_tags_allowed(self):
        creds = self.assume(self.member, "EscherOperator", SourceIdentity="escher-job-1",
                            Tags=[{"Key": "escher-job", "Value": "1"}])
        self.assertTrue(creds["AccessKeyId"].startswith("ASIA"), creds["AccessKeyId"])

    def test_wrong_or_missing_external_id_denied(self):
        for name in ("EscherOperator", "EscherReadOnly"):
            for ext in ("wrong-external-id-0123456789abcdefgh", OLD_EXTERNAL_ID, EXTERNAL_ID[:-1],
                        EXTERNAL_ID + "x", EXTERNAL_ID.lower()):
                code, msg = self.error_code(self.assume, self.member, name, ExternalId=ext)
                self.assertEqual(code, "AccessDenied", (ext, msg))
                self.assertIn(f"User: {self.hub_arn} is not authorized to perform: sts:AssumeRole",
                              msg)
            sts = self.sb.client("sts", "hub", region=REGION)
            code, _ = self.error_code(sts.assume_role, RoleArn=self.role_arn(self.member, name),
                                      RoleSessionName="no-external-id")
            self.assertEqual(code, "AccessDenied")

    def test_only_the_hub_is_trusted(self):
        # The organization's own administrator, even with the right ExternalId.
        code, _ = self.error_code(self.assume, self.member, "EscherOperator", profile="mgmt")
        self.assertEqual(code, "AccessDenied")

    # ---- reads ----

    def test_every_grant_is_exercised(self):
        tpl = cfn.load(cfn.ROLE_TEMPLATE)
        _, docs, _ = cfn.role_documents(tpl, "ReadOnlyRole", {
            "EscherPrincipalArn": self.hub_arn, "ExternalId": EXTERNAL_ID, "AWS::Partition": "aws",
            "AWS::AccountId": self.member["id"], "MaxSessionDuration": 3600,
            "ReadOnlyRoleName": "EscherReadOnly"})
        granted = {a for d in docs for a in cfn.actions_of(d)}
        self.assertEqual(granted - NOT_SIMULATED, set(READ_CALLS))

    def test_reads_allowed_for_both_roles(self):
        for name in ("EscherReadOnly", "EscherOperator"):
            for account in (self.member, self.mgmt):
                t = self.target(account, name)
                for action, call in READ_CALLS.items():
                    if action.startswith("organizations:List") and not account["is_management"]:
                        continue  # management-account APIs (AccessDeniedException for members)
                    with self.subTest(role=name, account=account["id"], action=action):
                        self.assertAllowed(call, t)

    def test_reads_need_the_grant(self):
        # The caller-side control: a session policy narrowing the role to
        # ec2:DescribeInstances makes the other reads fail, so the reads
        # above pass because of the template's grants.
        narrow = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}]})
        creds = self.assume(self.member, "EscherReadOnly", Policy=narrow)
        t = Target(self.sb, creds, self.state, self.member)
        t.client("ec2").describe_instances()
        self.assertDenied(t.client("ec2").describe_volumes)
        self.assertDenied(t.client("iam").list_users)
        self.assertDenied(t.client("s3").list_buckets)

    # ---- operations ----

    # The two tests below share the sandbox: the operator acts on the first
    # instances and volume of each kind, the read-only role tries the last.

    def instance(self, state):
        region = next(r for r in self.member["regions"] if r["name"] == REGION)
        ids = [i["id"] for i in region["instances"] if i["state"] == state]
        self.assertGreaterEqual(len(ids), 3, f"the world has too few {state} instances")
        return ids

    def unattached_volumes(self):
        region = next(r for r in self.member["regions"] if r["name"] == REGION)
        vols = [v["id"] for v in region["volumes"] if not v["instance_id"]]
        self.assertGreaterEqual(len(vols), 2, "the world has too few unattached volumes")
        return vols

    def test_read_only_cannot_operate(self):
        t = self.target(self.member, "EscherReadOnly")
        running = self.instance("running")[-1]
        stopped = self.instance("stopped")[-1]
        ec2 = t.client("ec2")
        msg = self.assertDenied(ec2.stop_instances, InstanceIds=[running])
        self.assertIn("ec2:StopInstances", msg)
        self.assertDenied(ec2.start_instances, InstanceIds=[stopped])
        self.assertDenied(ec2.reboot_instances, InstanceIds=[running])
        self.assertDenied(ec2.terminate_instances, InstanceIds=[running])
        self.assertDenied(ec2.create_tags, Resources=[running], Tags=[{"Key": "k", "Value": "v"}])
        self.assertDenied(ec2.modify_instance_attribute, InstanceId=stopped,
                          InstanceType={"Value": "t3.large"})
        region = t.world_region
        vol = self.unattached_volumes()[-1]
        self.assertDenied(ec2.delete_volume, VolumeId=vol)
        self.assertDenied(ec2.create_snapshot, VolumeId=vol)
        self.assertDenied(ec2.delete_snapshot, SnapshotId=region["snapshots"][0]["id"])
        db = region["dbs"][0]["id"]
        self.assertDenied(t.client("rds").stop_db_instance, DBInstanceIdentifier=db)
        self.assertDenied(t.client("rds").create_db_snapshot, DBInstanceIdentifier=db,
                          DBSnapshotIdentifier="escher-test-ro")
        self.assertDenied(t.client("autoscaling").update_auto_scaling_group,
                          AutoScalingGroupName=region["asgs"][0]["name"], DesiredCapacity=1)
        # Nothing changed.
        got = ec2.describe_instances(InstanceIds=[running])["Reservations"][0]["Instances"][0]
        self.assertEqual(got["State"]["Name"], "running")

    def test_operator_operates_but_never_terminates(self):
        t = self.target(self.member, "EscherOperator")
        ec2 = t.client("ec2")
        running = self.instance("running")
        stopped = self.instance("stopped")
        msg = self.assertDenied(ec2.terminate_instances, InstanceIds=[running[0]])
        self.assertIn("explicit deny", msg)
        out = ec2.stop_instances(InstanceIds=[running[0]])["StoppingInstances"][0]
        self.assertEqual(out["CurrentState"]["Name"], "stopping")
        ec2.reboot_instances(InstanceIds=[running[1]])
        self.assertEqual(ec2.start_instances(InstanceIds=[stopped[0]])["StartingInstances"][0]
                         ["CurrentState"]["Name"], "pending")
        ec2.modify_instance_attribute(InstanceId=stopped[1], InstanceType={"Value": "t3.large"})
        got = ec2.describe_instances(InstanceIds=[stopped[1]])["Reservations"][0]["Instances"][0]
        self.assertEqual(got["InstanceType"], "t3.large")
        ec2.create_tags(Resources=[running[1]], Tags=[{"Key": "escher", "Value": "yes"}])
        ec2.delete_tags(Resources=[running[1]], Tags=[{"Key": "escher"}])
        region = t.world_region
        vol = self.unattached_volumes()[0]
        snap = ec2.create_snapshot(VolumeId=vol, Description="escher onboarding test")
        ec2.delete_snapshot(SnapshotId=snap["SnapshotId"])
        ec2.delete_volume(VolumeId=vol)
        rds = t.client("rds")
        db = next(d["id"] for d in region["dbs"] if d["status"] == "available")
        rds.create_db_snapshot(DBInstanceIdentifier=db, DBSnapshotIdentifier="escher-test-op")
        rds.stop_db_instance(DBInstanceIdentifier=db)
        asg = region["asgs"][0]
        t.client("autoscaling").update_auto_scaling_group(
            AutoScalingGroupName=asg["name"], DesiredCapacity=asg["min_size"])
        # Still cannot terminate, now that the instance is stopping either.
        self.assertDenied(ec2.terminate_instances, InstanceIds=[running[0]])


if __name__ == "__main__":
    unittest.main(verbosity=2)
