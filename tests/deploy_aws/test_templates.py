"""deploy/aws templates, statically: they parse (short tags included), every
reference names something defined, the parameters constrain what they
should, the roles trust only the Escher principal with the ExternalId, and
every IAM action in their policies exists in botocore's service models."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cfn  # noqa: E402

ROLE_PARAMS = ["EscherPrincipalArn", "ExternalId", "OperatorRoleName", "ReadOnlyRoleName",
               "MaxSessionDuration"]
VALUES = {"EscherPrincipalArn": "arn:aws:iam::111122223333:role/escher-hub",
          "ExternalId": "x" * 32, "OperatorRoleName": "EscherOperator",
          "ReadOnlyRoleName": "EscherReadOnly", "MaxSessionDuration": "3600",
          "AWS::Partition": "aws", "AWS::AccountId": "444455556666", "AWS::Region": "us-east-1"}


def full(pattern, value):
    return re.fullmatch(pattern, value) is not None


class RoleTemplateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tpl = cfn.load(cfn.ROLE_TEMPLATE)

    def test_shape(self):
        t = self.tpl
        self.assertEqual(t["AWSTemplateFormatVersion"], "2010-09-09")
        self.assertEqual(sorted(t["Parameters"]), sorted(ROLE_PARAMS))
        types = {k: v["Type"] for k, v in t["Resources"].items()}
        self.assertEqual(types, {"ReadOnlyRole": "AWS::IAM::Role", "OperatorRole": "AWS::IAM::Role",
                                 "ReadPolicy": "AWS::IAM::Policy"})
        self.assertEqual(sorted(t["Outputs"]), ["ExternalId", "OperatorRoleArn", "ReadOnlyRoleArn"])
        self.assertEqual(t["Outputs"]["OperatorRoleArn"]["Value"], {"Fn::GetAtt": ["OperatorRole", "Arn"]})
        self.assertEqual(t["Outputs"]["ReadOnlyRoleArn"]["Value"], {"Fn::GetAtt": ["ReadOnlyRole", "Arn"]})
        self.assertEqual(t["Outputs"]["ExternalId"]["Value"], {"Ref": "ExternalId"})
        p = t["Parameters"]
        self.assertEqual(p["OperatorRoleName"]["Default"], "EscherOperator")
        self.assertEqual(p["ReadOnlyRoleName"]["Default"], "EscherReadOnly")
        self.assertEqual(p["MaxSessionDuration"]["Default"], 3600)
        self.assertGreaterEqual(p["ExternalId"]["MinLength"], 32)
        self.assertEqual(t["Resources"]["OperatorRole"]["Properties"]["RoleName"], {"Ref": "OperatorRoleName"})
        self.assertEqual(t["Resources"]["ReadOnlyRole"]["Properties"]["RoleName"], {"Ref": "ReadOnlyRoleName"})

    def test_references_defined(self):
        self.assertEqual(cfn.bad_references(self.tpl), [])

    def test_reference_checker_can_fail(self):
        broken = {"Parameters": {"A": {}}, "Resources": {"R": {"Properties": {
            "X": {"Ref": "Missing"}, "Y": {"Fn::Sub": "${Nope}-${A}-${AWS::Region}-${!Lit}"},
            "Z": {"Fn::GetAtt": ["Gone", "Arn"]}}}}}
        bad = cfn.bad_references(broken)
        self.assertEqual(len(bad), 3, bad)
        self.assertTrue(any("'Missing'" in b for b in bad) and any("'Nope'" in b for b in bad)
                        and any("'Gone'" in b for b in bad), bad)

    def test_principal_pattern(self):
        pat = self.tpl["Parameters"]["EscherPrincipalArn"]["AllowedPattern"]
        for good in ("arn:aws:iam::111122223333:role/escher-hub",
                     "arn:aws:iam::111122223333:user/escher-hub",
                     "arn:aws:iam::111122223333:role/path/escher-hub",
                     "arn:aws:iam::111122223333:root",
                     "arn:aws-us-gov:iam::111122223333:role/escher-hub"):
            self.assertTrue(full(pat, good), good)
        for bad in ("", "*", "arn:aws:iam::11112222333:role/x", "arn:aws:iam::111122223333:role/",
                    "arn:aws:sts::111122223333:assumed-role/escher/s",
                    "arn:aws:iam::111122223333:group/x", "111122223333",
                    "arn:aws:iam::111122223333:role/a b"):
            self.assertFalse(full(pat, bad), bad)

    def test_external_id_constraints(self):
        p = self.tpl["Parameters"]["ExternalId"]
        pat, lo, hi = p["AllowedPattern"], p["MinLength"], p["MaxLength"]

        def ok(v):
            return lo <= len(v) <= hi and full(pat, v)
        self.assertTrue(ok("A-Za-z0-9+=,.@:/_-" + "a" * 14))
        self.assertTrue(ok("a" * 1224))
        self.assertFalse(ok("a" * 31))
        self.assertFalse(ok("a" * 1225))
        for ch in " #$%&*!?\"'\\":
            self.assertFalse(ok("a" * 32 + ch), ch)

    def test_trust_policies(self):
        for role in ("OperatorRole", "ReadOnlyRole"):
            trust, _, duration = cfn.role_documents(self.tpl, role, VALUES)
            self.assertEqual(duration, 3600)
            sts = cfn.statements(trust)
            self.assertEqual(len(sts), 1, role)
            s = sts[0]
            self.assertEqual(s["Effect"], "Allow")
            self.assertEqual(s["Principal"], {"AWS": VALUES["EscherPrincipalArn"]})
            self.assertEqual(sorted(s["Action"]),
                             ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"])
            self.assertEqual(s["Condition"], {"StringEquals": {"sts:ExternalId": VALUES["ExternalId"]}})

    def test_every_action_exists(self):
        seen = 0
        for role in ("OperatorRole", "ReadOnlyRole"):
            trust, docs, _ = cfn.role_documents(self.tpl, role, VALUES)
            for doc in docs + [trust]:
                for effect in ("Allow", "Deny"):
                    for a in cfn.actions_of(doc, effect):
                        seen += 1
                        self.assertIsNone(cfn.bad_action(a), a)
        self.assertGreater(seen, 40)

    def test_action_checker_can_fail(self):
        for typo in ("ec2:DescribeInstance", "ec2:Describe*", "s3:GetPublicAccessBlock",
                     "s3:ListBuckets", "monitoring:GetMetricData", "rds:StopDbInstance",
                     "ce:GetCostAndUsages", "DescribeInstances", "sts:TagSessions"):
            self.assertIsNotNone(cfn.bad_action(typo), typo)
        for real in ("s3:ListAllMyBuckets", "s3:GetBucketPublicAccessBlock",
                     "s3:GetEncryptionConfiguration", "s3:GetBucketPolicyStatus",
                     "cloudwatch:GetMetricData", "sts:SetSourceIdentity"):
            self.assertIsNone(cfn.bad_action(real), real)

    def test_read_only_reads_only(self):
        _, docs, _ = cfn.role_documents(self.tpl, "ReadOnlyRole", VALUES)
        acts = [a for d in docs for a in cfn.actions_of(d)]
        self.assertIn("ec2:DescribeInstances", acts)
        for a in acts:
            name = a.split(":")[1]
            self.assertTrue(re.match(r"(Describe|List|Get|GenerateCredentialReport$)", name), a)
        for d in docs:
            self.assertEqual(cfn.actions_of(d, "Deny"), [])

    def test_operator_is_read_only_plus_operations_minus_terminate(self):
        _, ro, _ = cfn.role_documents(self.tpl, "ReadOnlyRole", VALUES)
        _, op, _ = cfn.role_documents(self.tpl, "OperatorRole", VALUES)
        ro_acts = {a for d in ro for a in cfn.actions_of(d)}
        op_acts = {a for d in op for a in cfn.actions_of(d)}
        self.assertTrue(ro_acts <= op_acts)
        self.assertEqual(op_acts - ro_acts, {
            "ec2:StartInstances", "ec2:StopInstances", "ec2:RebootInstances",
            "ec2:ModifyInstanceAttribute", "ec2:CreateTags", "ec2:DeleteTags",
            "ec2:CreateSnapshot", "ec2:DeleteSnapshot", "ec2:DeleteVolume",
            "rds:StartDBInstance", "rds:StopDBInstance", "rds:CreateDBSnapshot",
            "autoscaling:UpdateAutoScalingGroup"})
        denied = {a for d in op for a in cfn.actions_of(d, "Deny")}
        self.assertIn("ec2:TerminateInstances", denied)
        self.assertFalse(denied & op_acts)
        # Mutations are scoped to the account's own resources.
        for d in op:
            for s in cfn.statements(d):
                if s["Effect"] == "Allow" and set(s["Action"] if isinstance(s["Action"], list)
                                                  else [s["Action"]]) & (op_acts - ro_acts):
                    res = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
                    for r in res:
                        self.assertNotEqual(r, "*", s)
                        self.assertTrue(r.startswith("arn:aws:"), r)
                        self.assertTrue(":444455556666:" in r or "::snapshot/" in r, r)


class StackSetTemplateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tpl = cfn.load(cfn.STACKSET_TEMPLATE)
        cls.role = cfn.load(cfn.ROLE_TEMPLATE)

    def test_references_defined(self):
        self.assertEqual(cfn.bad_references(self.tpl), [])

    def test_shared_parameters_identical(self):
        for name in ROLE_PARAMS:
            mine = {k: v for k, v in self.tpl["Parameters"][name].items() if k != "Description"}
            theirs = {k: v for k, v in self.role["Parameters"][name].items() if k != "Description"}
            self.assertEqual(mine, theirs, name)

    def test_stackset(self):
        ss = self.tpl["Resources"]["MemberAccountRoles"]
        self.assertEqual(ss["Type"], "AWS::CloudFormation::StackSet")
        p = ss["Properties"]
        self.assertEqual(p["PermissionModel"], "SERVICE_MANAGED")
        self.assertIs(p["AutoDeployment"]["Enabled"], True)
        self.assertIn("CAPABILITY_NAMED_IAM", p["Capabilities"])
        self.assertEqual(p["TemplateURL"], {"Ref": "RoleTemplateURL"})
        passed = {x["ParameterKey"]: x["ParameterValue"] for x in p["Parameters"]}
        self.assertEqual(passed, {n: {"Ref": n} for n in ROLE_PARAMS})
        group, = p["StackInstancesGroup"]
        self.assertEqual(group["DeploymentTargets"]["OrganizationalUnitIds"],
                         {"Ref": "OrganizationalUnitIds"})
        self.assertEqual(group["Regions"], [{"Ref": "DeploymentRegion"}])
        self.assertEqual(self.tpl["Parameters"]["OrganizationalUnitIds"]["Type"], "CommaDelimitedList")

    def test_ou_pattern(self):
        pat = self.tpl["Parameters"]["OrganizationalUnitIds"]["AllowedPattern"]
        for good in ("r-ab12", "ou-ab12-abcdefgh", "ou-ab12-abcd1234efgh"):
            self.assertTrue(full(pat, good), good)
        for bad in ("", "o-abcdefghij", "ou-ab12", "123456789012", "r-AB12"):
            self.assertFalse(full(pat, bad), bad)

    def test_management_account_nested_stack(self):
        st = self.tpl["Resources"]["ManagementAccountRoles"]
        self.assertEqual(st["Type"], "AWS::CloudFormation::Stack")
        self.assertEqual(st["Condition"], "WithManagementAccount")
        self.assertEqual(st["Properties"]["TemplateURL"], {"Ref": "RoleTemplateURL"})
        self.assertEqual(st["Properties"]["Parameters"], {n: {"Ref": n} for n in ROLE_PARAMS})
        # The outputs it reads exist in the nested template.
        for out in ("ManagementOperatorRoleArn", "ManagementReadOnlyRoleArn"):
            res, attr = self.tpl["Outputs"][out]["Value"]["Fn::GetAtt"]
            self.assertEqual(res, "ManagementAccountRoles")
            self.assertTrue(attr.startswith("Outputs."), attr)
            self.assertIn(attr.split(".", 1)[1], self.role["Outputs"])

    def test_template_url_pattern(self):
        pat = self.tpl["Parameters"]["RoleTemplateURL"]["AllowedPattern"]
        self.assertTrue(full(pat, "https://b.s3.us-east-1.amazonaws.com/escher/customer-role.yaml"))
        self.assertTrue(full(pat, "https://s3.amazonaws.com/b/customer-role.yaml"))
        self.assertFalse(full(pat, "http://b.s3.amazonaws.com/customer-role.yaml"))
        self.assertFalse(full(pat, "https://example.com/customer-role.yaml"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
