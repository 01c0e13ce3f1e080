"""S3 (REST-XML) in escher-sandbox with boto3 and the AWS CLI: ListBuckets,
GetBucketLocation, GetPublicAccessBlock, GetBucketPolicyStatus,
GetBucketEncryption, NoSuchBucket and another account's bucket.

Expected values come from the world itself (GET /state on the admin API),
so every parsed field is checked against what the sandbox simulates."""

import http.client
import json
from xml.etree import ElementTree

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from harness import SandboxTestCase, main

PAB_FIELDS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class S3Test(SandboxTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        status, cls.state = cls.sb.admin("GET", "/state")
        assert status == 200
        cls.accounts = {a["id"]: a for a in cls.state["accounts"]}
        cls.mgmt = next(a for a in cls.state["accounts"] if a["is_management"])
        cls.members = [a for a in cls.state["accounts"] if not a["is_management"]]
        cls.clients = {}

    @classmethod
    def tearDownClass(cls):
        for c in cls.clients.values():
            c.close()
        super().tearDownClass()

    def profile(self, account):
        return "mgmt" if account["is_management"] else "acct-" + account["id"]

    clients = {}

    def s3(self, account, style="path"):
        """One client per (account, addressing style): tests reuse connections."""
        key = (account["id"], style)
        if key not in self.clients:
            cfg = Config(retries={"mode": "standard", "max_attempts": 1},
                         s3={"addressing_style": style})
            self.clients[key] = self.sb.client("s3", self.profile(account), config=cfg)
        return self.clients[key]

    def all_buckets(self):
        for a in self.state["accounts"]:
            for b in a["buckets"]:
                yield a, b

    # ---- ListBuckets ----

    def test_list_buckets_boto3(self):
        for a in self.state["accounts"]:
            out = self.s3(a).list_buckets()
            self.assertEqual([b["Name"] for b in out["Buckets"]], [b["name"] for b in a["buckets"]])
            for got, want in zip(out["Buckets"], a["buckets"]):
                self.assertEqual(got["CreationDate"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                                 want["create_time"])
            self.assertEqual(out["Owner"]["DisplayName"], a["name"])
            self.assertRegex(out["Owner"]["ID"], r"^[0-9a-f]{64}$")

    def test_list_buckets_cli(self):
        rc, out, err = self.sb.aws("s3api", "list-buckets", profile="mgmt")
        self.assertEqual(rc, 0, err)
        self.assertEqual([b["Name"] for b in out["Buckets"]],
                         [b["name"] for b in self.mgmt["buckets"]])
        self.assertEqual(out["Owner"]["DisplayName"], self.mgmt["name"])

    def test_list_buckets_wire_namespace(self):
        """The raw answer is AWS's document: root element in S3's namespace."""
        key, secret = self.sb.credentials("mgmt")
        req = AWSRequest(method="GET", url=self.sb.endpoint + "/")
        S3SigV4Auth(Credentials(key, secret), "s3", "us-east-1").add_auth(req)
        conn = http.client.HTTPConnection("127.0.0.1", self.sb.port, timeout=30)
        conn.request("GET", "/", headers=dict(req.headers))
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        self.assertEqual(resp.status, 200, body)
        root = ElementTree.fromstring(body)
        self.assertEqual(root.tag, NS + "ListAllMyBucketsResult")
        names = [e.text for e in root.iter(NS + "Name")]
        self.assertEqual(names, [b["name"] for b in self.mgmt["buckets"]])

    # ---- GetBucketLocation ----

    def test_bucket_location_boto3_both_styles(self):
        seen_us_east_1 = False
        for style in ("path", "auto"):
            for a, b in self.all_buckets():
                out = self.s3(a, style).get_bucket_location(Bucket=b["name"])
                want = None if b["region"] == "us-east-1" else b["region"]
                self.assertEqual(out.get("LocationConstraint"), want, b["name"])
                seen_us_east_1 |= want is None
        self.assertTrue(seen_us_east_1, "the world has no us-east-1 bucket to test")

    def test_bucket_location_cli(self):
        a, b = next((a, b) for a, b in self.all_buckets() if b["region"] == "us-east-1")
        rc, out, err = self.sb.aws("s3api", "get-bucket-location", "--bucket", b["name"],
                                   profile=self.profile(a))
        self.assertEqual(rc, 0, err)
        self.assertIsNone(out["LocationConstraint"])
        a, b = next((a, b) for a, b in self.all_buckets() if b["region"] != "us-east-1")
        rc, out, err = self.sb.aws("s3api", "get-bucket-location", "--bucket", b["name"],
                                   profile=self.profile(a))
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["LocationConstraint"], b["region"])

    # ---- the configuration reads ----

    def test_public_access_block(self):
        present = absent = 0
        for a, b in self.all_buckets():
            s3 = self.s3(a)
            if b["has_pab"]:
                out = s3.get_public_access_block(Bucket=b["name"])["PublicAccessBlockConfiguration"]
                self.assertEqual([out[f] for f in PAB_FIELDS], b["pab"], b["name"])
                present += 1
            else:
                self.assertClientError("NoSuchPublicAccessBlockConfiguration",
                                       s3.get_public_access_block, Bucket=b["name"])
                absent += 1
        self.assertGreater(present, 0)
        self.assertGreater(absent, 0)

    def test_policy_status(self):
        for a, b in self.all_buckets():
            s3 = self.s3(a)
            if b["has_policy"]:
                out = s3.get_bucket_policy_status(Bucket=b["name"])
                self.assertEqual(out["PolicyStatus"]["IsPublic"], b["policy_public"], b["name"])
            else:
                r = self.assertClientError("NoSuchBucketPolicy", s3.get_bucket_policy_status,
                                           Bucket=b["name"])
                self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 404)

    def test_encryption(self):
        kinds = set()
        for a, b in self.all_buckets():
            s3 = self.s3(a)
            if b["encryption"]:
                rules = s3.get_bucket_encryption(
                    Bucket=b["name"])["ServerSideEncryptionConfiguration"]["Rules"]
                self.assertEqual(len(rules), 1)
                self.assertEqual(rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
                                 b["encryption"])
                kinds.add(b["encryption"])
            else:
                self.assertClientError("ServerSideEncryptionConfigurationNotFoundError",
                                       s3.get_bucket_encryption, Bucket=b["name"])
                kinds.add(None)
        self.assertIn(None, kinds)
        self.assertIn("AES256", kinds)

    def test_configuration_cli(self):
        a, b = next((a, b) for a, b in self.all_buckets() if b["encryption"])
        rc, out, err = self.sb.aws("s3api", "get-bucket-encryption", "--bucket", b["name"],
                                   profile=self.profile(a))
        self.assertEqual(rc, 0, err)
        rule = out["ServerSideEncryptionConfiguration"]["Rules"][0]
        self.assertEqual(rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
                         b["encryption"])
        a, b = next((a, b) for a, b in self.all_buckets() if not b["has_pab"])
        rc, out, err = self.sb.aws("s3api", "get-public-access-block", "--bucket", b["name"],
                                   profile=self.profile(a))
        self.assertCliError("NoSuchPublicAccessBlockConfiguration", rc, err)
        a, b = next((a, b) for a, b in self.all_buckets() if b["has_policy"])
        rc, out, err = self.sb.aws("s3api", "get-bucket-policy-status", "--bucket", b["name"],
                                   profile=self.profile(a))
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["PolicyStatus"]["IsPublic"], b["policy_public"])

    # ---- errors ----

    def test_no_such_bucket(self):
        s3 = self.s3(self.mgmt)
        r = self.assertClientError("NoSuchBucket", s3.get_bucket_location,
                                   Bucket="escher-no-such-bucket-0000")
        self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 404)
        self.assertClientError("NoSuchBucket", s3.get_bucket_encryption,
                               Bucket="escher-no-such-bucket-0000")
        rc, _, err = self.sb.aws("s3api", "get-bucket-policy-status", "--bucket",
                                 "escher-no-such-bucket-0000", profile="mgmt")
        self.assertCliError("NoSuchBucket", rc, err)

    def test_other_accounts_bucket_is_access_denied(self):
        member = next(a for a in self.members if a["buckets"])
        name = member["buckets"][0]["name"]
        s3 = self.s3(self.mgmt)
        for op in (s3.get_bucket_location, s3.get_public_access_block,
                   s3.get_bucket_policy_status, s3.get_bucket_encryption):
            r = self.assertClientError("AccessDenied", op, Bucket=name)
            self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 403)
        rc, _, err = self.sb.aws("s3api", "get-bucket-location", "--bucket", name,
                                 profile="mgmt")
        self.assertCliError("AccessDenied", rc, err)

    # ---- IAM action names ----

    def session_s3(self, account, actions):
        """An S3 client in `account` whose session policy allows only `actions`,
        through the management account's access to OrganizationAccountAccessRole."""
        sts = self.sb.client("sts", "mgmt")
        policy = {"Version": "2012-10-17",
                  "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
        creds = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account['id']}:role/OrganizationAccountAccessRole",
            RoleSessionName="s3-iam-names", Policy=json.dumps(policy))["Credentials"]
        return self.sb.client_with_keys("s3", creds["AccessKeyId"], creds["SecretAccessKey"],
                                        creds["SessionToken"])

    def test_authorization_uses_iam_action_names(self):
        # S3 operations are authorized under IAM's names, which differ from the
        # wire names: ListBuckets is s3:ListAllMyBuckets, GetPublicAccessBlock is
        # s3:GetBucketPublicAccessBlock, GetBucketEncryption is
        # s3:GetEncryptionConfiguration.
        member = next(a for a in self.members if a["buckets"])
        name = member["buckets"][0]["name"]
        s3 = self.session_s3(member, ["s3:ListAllMyBuckets", "s3:GetBucketLocation"])
        listed = {b["Name"] for b in s3.list_buckets()["Buckets"]}
        self.assertEqual(listed, {b["name"] for b in member["buckets"]})
        s3.get_bucket_location(Bucket=name)
        for op in (s3.get_bucket_encryption, s3.get_public_access_block):
            self.assertClientError("AccessDenied", op, Bucket=name)

        # The wire names are not IAM actions: allowing them allows nothing.
        wire = self.session_s3(member, ["s3:ListBuckets", "s3:GetPublicAccessBlock",
                                        "s3:GetBucketEncryption"])
        self.assertClientError("AccessDenied", wire.list_buckets)
        self.assertClientError("AccessDenied", wire.get_public_access_block, Bucket=name)
        # Under their IAM names the same calls are allowed: they reach the bucket
        # and answer its configuration, or its absence.
        iam_named = self.session_s3(member, ["s3:GetBucketPublicAccessBlock",
                                             "s3:GetEncryptionConfiguration"])
        bucket = member["buckets"][0]
        if bucket["has_pab"]:
            iam_named.get_public_access_block(Bucket=name)
        else:
            self.assertClientError("NoSuchPublicAccessBlockConfiguration",
                                   iam_named.get_public_access_block, Bucket=name)
        if bucket["encryption"]:
            iam_named.get_bucket_encryption(Bucket=name)
        else:
            self.assertClientError("ServerSideEncryptionConfigurationNotFoundError",
                                   iam_named.get_bucket_encryption, Bucket=name)


if __name__ == "__main__":
    main()
