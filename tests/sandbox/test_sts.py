"""STS against escher-sandbox with Debian's aws CLI and boto3: AssumeRole's
trust policies (ExternalId), durations, role chaining, session names,
session policies, expiry, and GetCallerIdentity."""

import datetime
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import EXTERNAL_ID, SandboxTestCase, main  # noqa: E402

ONLY_DESCRIBE = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}],
})


def session_env(creds):
    return {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
            "AWS_SESSION_TOKEN": creds["SessionToken"]}


class StsTestBase(SandboxTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accounts = cls.sb.account_ids()
        cls.mgmt = cls.accounts[0]
        cls.member = cls.accounts[1]
        cls.hub = cls.sb.account_of("hub")
        cls.operator = f"arn:aws:iam::{cls.member}:role/EscherOperator"
        cls.readonly = f"arn:aws:iam::{cls.member}:role/EscherReadOnly"

    def assume(self, profile="hub", role=None, name="escher-test", **kwargs):
        sts = self.sb.client("sts", profile)
        if role is None:
            role = self.operator
            kwargs.setdefault("ExternalId", EXTERNAL_ID)
        return sts.assume_role(RoleArn=role, RoleSessionName=name, **kwargs)

    def keys_client(self, service, creds, region=None):
        return self.sb.client_with_keys(service, creds["AccessKeyId"], creds["SecretAccessKey"],
                                        creds["SessionToken"], region=region)


class AssumeRoleTest(StsTestBase):
    def test_get_caller_identity_user(self):
        ident = self.sb.client("sts", "hub").get_caller_identity()
        self.assertEqual(ident["Account"], self.hub)
        self.assertEqual(ident["Arn"], f"arn:aws:iam::{self.hub}:user/escher-hub")
        self.assertTrue(ident["UserId"].startswith("AIDA"), ident)
        self.assertEqual(len(ident["UserId"]), 20)
        rc, out, err = self.sb.aws("sts", "get-caller-identity", profile="mgmt")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["Account"], self.mgmt)
        self.assertTrue(out["Arn"].startswith(f"arn:aws:iam::{self.mgmt}:user/"), out)
        self.assertTrue(out["UserId"].startswith("AIDA"), out)

    def test_wrong_external_id_denied_cli(self):
        rc, out, err = self.sb.aws("sts", "assume-role", "--role-arn", self.operator,
                                   "--role-session-name", "escher", "--external-id",
                                   "wrong-external-id", profile="hub")
        self.assertCliError("AccessDenied", rc, err)
        self.assertIn(f"User: arn:aws:iam::{self.hub}:user/escher-hub is not authorized to "
                      f"perform: sts:AssumeRole on resource: {self.operator}", err)
        self.assertIsNone(out)

    def test_wrong_or_missing_external_id_denied_boto3(self):
        for kwargs in ({"ExternalId": "wrong-external-id"}, {}):
            resp = self.assertClientError("AccessDenied", self.assume, role=self.operator,
                                          **kwargs)
            self.assertEqual(resp["ResponseMetadata"]["HTTPStatusCode"], 403)
            self.assertEqual(resp["Error"]["Message"],
                             f"User: arn:aws:iam::{self.hub}:user/escher-hub is not authorized "
                             f"to perform: sts:AssumeRole on resource: {self.operator}")

    def test_unknown_role_and_untrusted_caller_denied(self):
        self.assertClientError("AccessDenied", self.assume,
                               role=f"arn:aws:iam::{self.member}:role/NoSuchRole",
                               ExternalId=EXTERNAL_ID)
        # A member's administrator is not the hub: the trust policy names the hub only.
        resp = self.assertClientError("AccessDenied", self.assume, profile=f"acct-{self.member}",
                                      role=self.operator, ExternalId=EXTERNAL_ID)
        self.assertIn(f"on resource: {self.operator}", resp["Error"]["Message"])

    def test_right_external_id_cli_credentials_work(self):
        rc, out, err = self.sb.aws("sts", "assume-role", "--role-arn", self.operator,
                                   "--role-session-name", "escher-cli", "--external-id",
                                   EXTERNAL_ID, profile="hub")
        self.assertEqual(rc, 0, err)
        creds = out["Credentials"]
        self.assertTrue(creds["AccessKeyId"].startswith("ASIA"), creds)
        self.assertEqual(len(creds["AccessKeyId"]), 20)
        self.assertEqual(len(creds["SecretAccessKey"]), 40)
        self.assertTrue(creds["SessionToken"])
        user = out["AssumedRoleUser"]
        self.assertEqual(user["Arn"],
                         f"arn:aws:sts::{self.member}:assumed-role/EscherOperator/escher-cli")
        self.assertTrue(user["AssumedRoleId"].startswith("AROA"), user)
        self.assertTrue(user["AssumedRoleId"].endswith(":escher-cli"), user)
        self.assertNotIn("PackedPolicySize", out)
        env = session_env(creds)
        rc, ident, err = self.sb.aws("sts", "get-caller-identity", profile=None, env=env,
                                     region="us-east-1")
        self.assertEqual(rc, 0, err)
        self.assertEqual(ident["Arn"], user["Arn"])
        self.assertEqual(ident["Account"], self.member)
        self.assertEqual(ident["UserId"], user["AssumedRoleId"])
        rc, desc, err = self.sb.aws("ec2", "describe-instances", profile=None, env=env,
                                    region="us-east-1")
        self.assertEqual(rc, 0, err)
        self.assertIn("Reservations", desc)

    def test_boto3_credentials_and_expiration(self):
        before = datetime.datetime.now(datetime.timezone.utc)
        out = self.assume(name="escher-boto3", DurationSeconds=900)
        creds = out["Credentials"]
        exp = creds["Expiration"]
        self.assertIsInstance(exp, datetime.datetime)
        delta = (exp - before).total_seconds()
        self.assertTrue(880 <= delta <= 960, delta)
        ident = self.keys_client("sts", creds).get_caller_identity()
        self.assertEqual(ident["Arn"],
                         f"arn:aws:sts::{self.member}:assumed-role/EscherOperator/escher-boto3")
        self.assertEqual(ident["UserId"], out["AssumedRoleUser"]["AssumedRoleId"])
        ec2 = self.keys_client("ec2", creds)
        self.assertIn("Reservations", ec2.describe_instances())
        used = [c for c in self.sb.calls() if c["action"] == "DescribeInstances"
                and c["session_name"] == "escher-boto3"]
        self.assertEqual(used[-1]["assumed_role_arn"], self.operator)
        self.assertEqual(used[-1]["external_id"], EXTERNAL_ID)

    def test_duration_bounds(self):
        resp = self.assertClientError("ValidationError", self.assume, DurationSeconds=7200)
        self.assertEqual(resp["Error"]["Message"],
                         "The requested DurationSeconds exceeds the MaxSessionDuration set for "
                         "this role.")
        rc, _, err = self.sb.aws("sts", "assume-role", "--role-arn", self.operator,
                                 "--role-session-name", "short", "--external-id", EXTERNAL_ID,
                                 "--duration-seconds", "50000", profile="hub")
        self.assertCliError("ValidationError", rc, err)
        self.assertIn("Value '50000' at 'durationSeconds' failed to satisfy constraint: "
                      "Member must have value less than or equal to 43200", err)
        out = self.assume(DurationSeconds=3600)
        self.assertTrue(out["Credentials"]["AccessKeyId"].startswith("ASIA"))

    def test_role_chaining_limit(self):
        # mgmt admin -> the management account's OrganizationAccountAccessRole
        # (trusts the management account) -> a member's (trusts the same).
        first = self.assume(profile="mgmt",
                            role=f"arn:aws:iam::{self.mgmt}:role/OrganizationAccountAccessRole",
                            name="hop-1")
        sts = self.keys_client("sts", first["Credentials"])
        target = f"arn:aws:iam::{self.member}:role/OrganizationAccountAccessRole"
        resp = self.assertClientError("ValidationError", sts.assume_role, RoleArn=target,
                                      RoleSessionName="hop-2", DurationSeconds=3601)
        self.assertEqual(resp["Error"]["Message"],
                         "The requested DurationSeconds exceeds the 1 hour session limit for "
                         "roles assumed by role chaining.")
        second = sts.assume_role(RoleArn=target, RoleSessionName="hop-2", DurationSeconds=3600)
        ident = self.keys_client("sts", second["Credentials"]).get_caller_identity()
        self.assertEqual(ident["Arn"], f"arn:aws:sts::{self.member}:assumed-role/"
                                       "OrganizationAccountAccessRole/hop-2")
        # The hub's session may not chain into a role that trusts only the hub user.
        op = self.assume(name="hop-op")
        resp = self.assertClientError("AccessDenied",
                                      self.keys_client("sts", op["Credentials"]).assume_role,
                                      RoleArn=self.readonly, RoleSessionName="again",
                                      ExternalId=EXTERNAL_ID)
        self.assertEqual(resp["Error"]["Message"],
                         f"User: arn:aws:sts::{self.member}:assumed-role/EscherOperator/hop-op "
                         f"is not authorized to perform: sts:AssumeRole on resource: "
                         f"{self.readonly}")

    def test_session_name_rules(self):
        resp = self.assertClientError("ValidationError", self.assume, name="bad name!")
        self.assertEqual(resp["Error"]["Message"],
                         "1 validation error detected: Value 'bad name!' at 'roleSessionName' "
                         "failed to satisfy constraint: Member must satisfy regular expression "
                         "pattern: [\\w+=,.@-]*")
        long_name = "n" * 65
        rc, _, err = self.sb.aws("sts", "assume-role", "--role-arn", self.operator,
                                 "--role-session-name", long_name, "--external-id", EXTERNAL_ID,
                                 profile="hub")
        self.assertCliError("ValidationError", rc, err)
        self.assertIn(f"1 validation error detected: Value '{long_name}' at 'roleSessionName' "
                      "failed to satisfy constraint: Member must have length less than or "
                      "equal to 64", err)
        both = "x y" * 22
        resp = self.assertClientError("ValidationError", self.assume, name=both)
        self.assertTrue(resp["Error"]["Message"].startswith("2 validation errors detected: "),
                        resp)
        ok = self.assume(name="a.b@c=d,e+f-g_h")
        self.assertTrue(ok["AssumedRoleUser"]["Arn"].endswith("/a.b@c=d,e+f-g_h"))

    def test_session_policy_narrows(self):
        out = self.assume(name="narrow", Policy=ONLY_DESCRIBE)
        self.assertIsInstance(out["PackedPolicySize"], int)
        self.assertTrue(0 < out["PackedPolicySize"] <= 100, out["PackedPolicySize"])
        creds = out["Credentials"]
        ec2 = self.keys_client("ec2", creds, region="us-east-1")
        instances = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
        self.assertTrue(instances, "the member has instances in us-east-1")
        iid = instances[0]["InstanceId"]
        resp = self.assertClientError("UnauthorizedOperation", ec2.stop_instances,
                                      InstanceIds=[iid])
        self.assertIn("because no session policy allows the ec2:StopInstances action",
                      resp["Error"]["Message"])
        # The role itself allows iam:List*, the session policy does not.
        resp = self.assertClientError("AccessDenied", self.keys_client("iam", creds).list_users)
        self.assertIn("because no session policy allows the iam:ListUsers action",
                      resp["Error"]["Message"])
        # The CLI sees the same narrowing.
        env = session_env(creds)
        rc, _, err = self.sb.aws("ec2", "stop-instances", "--instance-ids", iid, profile=None,
                                 env=env, region="us-east-1")
        self.assertCliError("UnauthorizedOperation", rc, err)
        rc, out, err = self.sb.aws("ec2", "describe-instances", "--instance-ids", iid,
                                   profile=None, env=env, region="us-east-1")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["Reservations"][0]["Instances"][0]["InstanceId"], iid)
        logged = [c for c in self.sb.calls() if c["action"] == "StopInstances"
                  and c["session_name"] == "narrow"]
        self.assertTrue(logged and all(c["session_policy"] for c in logged), logged)

    def test_session_policy_malformed(self):
        resp = self.assertClientError("MalformedPolicyDocument", self.assume, Policy="{not json")
        self.assertEqual(resp["Error"]["Message"], "The policy is not in the valid JSON format.")
        rc, _, err = self.sb.aws("sts", "assume-role", "--role-arn", self.operator,
                                 "--role-session-name", "short", "--external-id", EXTERNAL_ID,
                                 "--policy", '{"Version":"2012-10-17","Statement":{"Effect":'
                                 '"Maybe","Action":"*","Resource":"*"}}', profile="hub")
        self.assertCliError("MalformedPolicyDocument", rc, err)
        self.assertIn("Syntax errors in policy.", err)
        too_long = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": f"ec2:Describe{i:04d}", "Resource": "*"}
            for i in range(60)]})
        self.assertGreater(len(too_long), 2048)
        resp = self.assertClientError("ValidationError", self.assume, Policy=too_long)
        self.assertIn("at 'policy' failed to satisfy constraint: Member must have length less "
                      "than or equal to 2048", resp["Error"]["Message"])

    def test_source_identity(self):
        # The customer roles trust the hub for sts:SetSourceIdentity, so
        # Escher can stamp its sessions; chained sessions keep it.
        out = self.assume(name="with-source", SourceIdentity="escher-run-42")
        self.assertEqual(out["SourceIdentity"], "escher-run-42")
        ec2 = self.keys_client("ec2", out["Credentials"])
        ec2.describe_instances()
        logged = [c for c in self.sb.calls() if c["action"] == "DescribeInstances"
                  and c["session_name"] == "with-source"]
        self.assertEqual(logged[-1]["source_identity"], "escher-run-42")
        resp = self.assertClientError("ValidationError", self.assume, name="bad-source",
                                      SourceIdentity="has space")
        self.assertIn("at 'sourceIdentity' failed to satisfy constraint", resp["Error"]["Message"])


class ExpiryTest(StsTestBase):
    """The acceptance path with its own sandbox, because it moves the clock."""

    def test_cli_assume_use_expire(self):
        rc, out, err = self.sb.aws("sts", "assume-role", "--role-arn", self.operator,
                                   "--role-session-name", "expiring", "--external-id",
                                   "not-the-external-id", profile="hub")
        self.assertCliError("AccessDenied", rc, err)
        rc, out, err = self.sb.aws("sts", "assume-role", "--role-arn", self.operator,
                                   "--role-session-name", "expiring", "--external-id",
                                   EXTERNAL_ID, "--duration-seconds", "900", profile="hub")
        self.assertEqual(rc, 0, err)
        env = session_env(out["Credentials"])
        rc, ident, err = self.sb.aws("sts", "get-caller-identity", profile=None, env=env,
                                     region="us-east-1")
        self.assertEqual(rc, 0, err)
        self.assertEqual(ident["Arn"],
                         f"arn:aws:sts::{self.member}:assumed-role/EscherOperator/expiring")
        rc, _, err = self.sb.aws("ec2", "describe-instances", profile=None, env=env,
                                 region="eu-west-1")
        self.assertEqual(rc, 0, err)
        boto = self.keys_client("sts", out["Credentials"])
        self.assertEqual(boto.get_caller_identity()["Arn"], ident["Arn"])
        self.sb.advance_clock(901)
        rc, _, err = self.sb.aws("sts", "get-caller-identity", profile=None, env=env,
                                     region="us-east-1")
        self.assertCliError("ExpiredToken", rc, err)
        rc, _, err = self.sb.aws("ec2", "describe-instances", profile=None, env=env,
                                 region="eu-west-1")
        self.assertNotEqual(rc, 0, err)
        self.assertIn("Expired", err)
        self.assertClientError("ExpiredToken", boto.get_caller_identity)
        # Long-term keys are unaffected, and a fresh session works again.
        again = self.assume(name="after-expiry")
        self.assertEqual(self.keys_client("sts", again["Credentials"]).get_caller_identity()
                         ["Arn"], f"arn:aws:sts::{self.member}:assumed-role/EscherOperator/"
                                  "after-expiry")


if __name__ == "__main__":
    main()
