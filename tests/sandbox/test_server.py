"""escher-sandbox's edge: SigV4 verification, routing, protocol shapes,
keep-alive, faults and the admin API, with boto3 and the AWS CLI."""

import contextlib
import datetime
import http.client
import time
import types
import unittest
import urllib.error
import urllib.request
from unittest import mock
from xml.etree import ElementTree

import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from harness import EXTERNAL_ID, Sandbox, SandboxTestCase, main

WRONG_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
UNKNOWN_KEY = "AKIAIOSFODNN7EXAMPLE"

# service -> (operation to call, kwargs), one per protocol.
PROBES = {
    "sts": ("get_caller_identity", {}),                # query
    "ec2": ("describe_instances", {}),                 # ec2
    "organizations": ("list_accounts", {}),            # json
    "s3": ("list_buckets", {}),                        # rest-xml
    "iam": ("list_users", {}),                         # query, global
}


def skewed_datetime(offset_seconds):
    """A stand-in for the signers' datetime module whose utcnow() is off."""

    class Skewed(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return datetime.datetime.utcnow() + datetime.timedelta(seconds=offset_seconds)

    return types.SimpleNamespace(datetime=Skewed, timedelta=datetime.timedelta,
                                 timezone=datetime.timezone)


@contextlib.contextmanager
def skewed_clock(offset_seconds):
    """Makes botocore sign as if the clock were off by offset_seconds, in
    both signers it may use (its own and, with awscrt installed, CRT's)."""
    fake = skewed_datetime(offset_seconds)
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(botocore.auth, "datetime", fake))
        try:
            import botocore.crt.auth as crt_auth
            stack.enter_context(mock.patch.object(crt_auth, "datetime", fake))
        except ImportError:
            pass
        yield


class SignedRequests:
    """Hand-signed requests (scope and time chosen by the test) sent with
    http.client, optionally over one kept-alive connection."""

    def __init__(self, sb):
        self.sb = sb

    def prepare(self, method, path, service, region, key, secret, token=None, body=b"",
                headers=None, skew=0, query=""):
        url = self.sb.endpoint + path + ("?" + query if query else "")
        req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
        auth = SigV4Auth(Credentials(key, secret, token), service, region)
        if skew:
            with skewed_clock(skew):
                auth.add_auth(req)
        else:
            auth.add_auth(req)
        p = req.prepare()
        target = path + ("?" + query if query else "")
        return method, target, p.body, dict(p.headers)

    def send(self, conn, prepared):
        method, target, body, headers = prepared
        conn.request(method, target, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()

    def once(self, *args, **kwargs):
        conn = http.client.HTTPConnection("127.0.0.1", self.sb.port, timeout=30)
        try:
            return self.send(conn, self.prepare(*args, **kwargs))
        finally:
            conn.close()


def form(action, version, **params):
    body = f"Action={action}&Version={version}"
    for k, v in params.items():
        body += f"&{k}={v}"
    return body.encode()


FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def xml_code(body):
    root = ElementTree.fromstring(body)
    for el in root.iter():
        if el.tag.split("}")[-1] == "Code":
            return el.text
    return None


class SignatureTests(SandboxTestCase):
    def test_valid_signatures_every_protocol(self):
        for service, (op, kwargs) in PROBES.items():
            with self.subTest(service=service):
                region = "us-east-1" if service in ("iam", "organizations") else None
                out = getattr(self.sb.client(service, "mgmt", region=region), op)(**kwargs)
                self.assertEqual(out["ResponseMetadata"]["HTTPStatusCode"], 200)
                self.assertTrue(out["ResponseMetadata"]["RequestId"])

    def test_identity_of_each_profile(self):
        mgmt = self.sb.sts_identity("mgmt")
        self.assertEqual(mgmt["Arn"], f"arn:aws:iam::{mgmt['Account']}:user/Administrator")
        hub = self.sb.sts_identity("hub")
        self.assertNotEqual(hub["Account"], mgmt["Account"])
        ids = self.sb.account_ids()
        self.assertEqual(len(ids), 4)  # management + 3 members
        for acct in ids[1:]:
            self.assertEqual(self.sb.account_of(f"acct-{acct}"), acct)
        rc, out, err = self.sb.aws("sts", "get-caller-identity", profile="hub")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["Arn"], hub["Arn"])

    def test_wrong_secret(self):
        key, _ = self.sb.credentials("mgmt")
        want = {
            "sts": ("SignatureDoesNotMatch", 403),
            "iam": ("SignatureDoesNotMatch", 403),
            "ec2": ("AuthFailure", 401),
            "organizations": ("InvalidSignatureException", 400),
            "s3": ("SignatureDoesNotMatch", 403),
        }
        for service, (op, kwargs) in PROBES.items():
            with self.subTest(service=service):
                region = "us-east-1" if service in ("iam", "organizations") else None
                c = self.sb.client_with_keys(service, key, WRONG_SECRET, region=region)
                resp = self.assertClientError(want[service][0], getattr(c, op), **kwargs)
                self.assertEqual(resp["ResponseMetadata"]["HTTPStatusCode"], want[service][1])
        rc, out, err = self.sb.aws("ec2", "describe-instances", profile=None,
                                   env={"AWS_ACCESS_KEY_ID": key,
                                        "AWS_SECRET_ACCESS_KEY": WRONG_SECRET,
                                        "AWS_DEFAULT_REGION": "us-east-1"})
        self.assertCliError("AuthFailure", rc, err)
        rc, out, err = self.sb.aws("sts", "get-caller-identity", profile=None,
                                   env={"AWS_ACCESS_KEY_ID": key,
                                        "AWS_SECRET_ACCESS_KEY": WRONG_SECRET,
                                        "AWS_DEFAULT_REGION": "us-east-1"})
        self.assertCliError("SignatureDoesNotMatch", rc, err)

    def test_unknown_key(self):
        want = {
            "sts": ("InvalidClientTokenId", 403),
            "iam": ("InvalidClientTokenId", 403),
            "ec2": ("AuthFailure", 401),
            "organizations": ("UnrecognizedClientException", 400),
            "s3": ("InvalidAccessKeyId", 403),
        }
        for service, (op, kwargs) in PROBES.items():
            with self.subTest(service=service):
                region = "us-east-1" if service in ("iam", "organizations") else None
                c = self.sb.client_with_keys(service, UNKNOWN_KEY, WRONG_SECRET, region=region)
                resp = self.assertClientError(want[service][0], getattr(c, op), **kwargs)
                self.assertEqual(resp["ResponseMetadata"]["HTTPStatusCode"], want[service][1])
        rc, out, err = self.sb.aws("sts", "get-caller-identity", profile=None,
                                   env={"AWS_ACCESS_KEY_ID": UNKNOWN_KEY,
                                        "AWS_SECRET_ACCESS_KEY": WRONG_SECRET,
                                        "AWS_DEFAULT_REGION": "us-east-1"})
        self.assertCliError("InvalidClientTokenId", rc, err)
        self.assertIn("The security token included in the request is invalid", err)

    def test_clock_skew(self):
        want = {
            "sts": "SignatureDoesNotMatch",
            "iam": "SignatureDoesNotMatch",
            "ec2": "RequestExpired",
            "organizations": "InvalidSignatureException",
            "s3": "RequestTimeTooSkewed",
        }
        for skew in (-20 * 60, 20 * 60):
            for service, (op, kwargs) in PROBES.items():
                with self.subTest(service=service, skew=skew):
                    region = "us-east-1" if service in ("iam", "organizations") else None
                    c = self.sb.client(service, "mgmt", region=region)
                    with skewed_clock(skew):
                        resp = self.assertClientError(want[service], getattr(c, op), **kwargs)
                    if service == "sts":
                        prefix = "Signature expired" if skew < 0 else "Signature not yet current"
                        self.assertIn(prefix, resp["Error"]["Message"])

    def test_small_skew_is_accepted(self):
        c = self.sb.client("sts", "mgmt")
        with skewed_clock(-10 * 60):
            self.assertIn("Arn", c.get_caller_identity())

    def test_sandbox_clock_does_not_affect_signatures(self):
        # Signatures are checked against the real clock: advancing the
        # sandbox clock by a day leaves long-term keys working.
        status, before = self.sb.admin("GET", "/clock")
        self.sb.advance_clock(86400)
        self.assertIn("Arn", self.sb.client("sts", "mgmt").get_caller_identity())
        status, after = self.sb.admin("GET", "/clock")
        self.assertGreaterEqual(after["epoch"] - before["epoch"], 86400)

    def test_scope_region_and_service(self):
        key, secret = self.sb.credentials("mgmt")
        sr = SignedRequests(self.sb)
        # IAM is global: only us-east-1 is a valid scope.
        status, _, body = sr.once("POST", "/", "iam", "eu-west-1", key, secret,
                                  body=form("ListUsers", "2010-05-08"), headers=FORM)
        self.assertEqual(status, 403)
        self.assertEqual(xml_code(body), "SignatureDoesNotMatch")
        self.assertIn(b"Credential should be scoped to a valid region", body)
        # A region AWS does not have.
        status, _, body = sr.once("POST", "/", "sts", "xx-nowhere-9", key, secret,
                                  body=form("GetCallerIdentity", "2011-06-15"), headers=FORM)
        self.assertEqual((status, xml_code(body)), (403, "SignatureDoesNotMatch"))
        # A service the sandbox does not serve.
        status, _, body = sr.once("POST", "/", "lambda", "us-east-1", key, secret,
                                  body=form("GetCallerIdentity", "2011-06-15"), headers=FORM)
        self.assertEqual((status, xml_code(body)), (403, "SignatureDoesNotMatch"))
        self.assertIn(b"lambda", body)
        # The same request scoped right works.
        status, _, body = sr.once("POST", "/", "iam", "us-east-1", key, secret,
                                  body=form("ListUsers", "2010-05-08"), headers=FORM)
        self.assertEqual(status, 200, body)
        # boto3 with a regional client for STS in eu-west-1 signs eu-west-1: fine.
        out = self.sb.client("sts", "mgmt", region="eu-west-1").get_caller_identity()
        self.assertIn("Arn", out)

    def test_tampered_body(self):
        key, secret = self.sb.credentials("mgmt")
        sr = SignedRequests(self.sb)
        method, target, body, headers = sr.prepare(
            "POST", "/", "ec2", "us-east-1", key, secret,
            body=form("DescribeInstances", "2016-11-15", MaxResults="5"), headers=FORM)
        conn = http.client.HTTPConnection("127.0.0.1", self.sb.port, timeout=30)
        status, _, out = sr.send(conn, (method, target, body.replace(b"5", b"6"), headers))
        conn.close()
        self.assertEqual((status, xml_code(out)), (401, "AuthFailure"))

    def test_missing_authentication(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.sb.port, timeout=30)
        conn.request("POST", "/", body=form("GetCallerIdentity", "2011-06-15"), headers=FORM)
        resp = conn.getresponse()
        body = resp.read()
        self.assertEqual((resp.status, xml_code(body)), (403, "MissingAuthenticationToken"))
        conn.request("POST", "/", body=form("DescribeInstances", "2016-11-15"), headers=FORM)
        resp = conn.getresponse()
        body = resp.read()
        self.assertEqual((resp.status, xml_code(body)), (401, "AuthFailure"))
        conn.request("POST", "/", body=b"{}", headers={
            "X-Amz-Target": "AWSOrganizationsV20161128.ListAccounts",
            "Content-Type": "application/x-amz-json-1.1"})
        resp = conn.getresponse()
        body = resp.read()
        self.assertEqual(resp.status, 400)
        self.assertIn(b"MissingAuthenticationTokenException", body)
        conn.request("GET", "/")
        resp = conn.getresponse()
        body = resp.read()
        self.assertEqual((resp.status, xml_code(body)), (403, "AccessDenied"))
        conn.close()


class SessionTests(SandboxTestCase):
    def assume(self, account):
        sts = self.sb.client("sts", "hub")
        out = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/EscherReadOnly",
                              RoleSessionName="server-test", ExternalId=EXTERNAL_ID)
        return out["Credentials"]

    def test_session_token_checked_and_expires(self):
        account = self.sb.account_ids()[1]
        creds = self.assume(account)
        key, secret, token = creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
        ok = self.sb.client_with_keys("sts", key, secret, token).get_caller_identity()
        self.assertEqual(ok["Account"], account)
        self.assertIn(":assumed-role/EscherReadOnly/server-test", ok["Arn"])
        # Without the token, or with another, the key is not accepted.
        self.assertClientError("InvalidClientTokenId",
                               self.sb.client_with_keys("sts", key, secret).get_caller_identity)
        self.assertClientError("InvalidClientTokenId", self.sb.client_with_keys(
            "sts", key, secret, token[:-4] + "AAAA").get_caller_identity)
        self.assertClientError("AuthFailure", self.sb.client_with_keys(
            "ec2", key, secret, token[:-4] + "AAAA").describe_instances)
        # Past its expiry on the sandbox clock, the session is refused.
        self.sb.advance_clock(2 * 3600)
        self.assertClientError("ExpiredToken", self.sb.client_with_keys(
            "sts", key, secret, token).get_caller_identity)
        self.assertClientError("RequestExpired", self.sb.client_with_keys(
            "ec2", key, secret, token).describe_instances)
        self.assertClientError("ExpiredTokenException", self.sb.client_with_keys(
            "organizations", key, secret, token, region="us-east-1").list_roots)
        rc, out, err = self.sb.aws("sts", "get-caller-identity", profile=None, env={
            "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_SESSION_TOKEN": token, "AWS_DEFAULT_REGION": "us-east-1"})
        self.assertCliError("ExpiredToken", rc, err)

    def test_long_term_key_with_token_refused(self):
        key, secret = self.sb.credentials("mgmt")
        c = self.sb.client_with_keys("sts", key, secret, "FwoGZXIvYXdzEXAMPLETOKEN")
        self.assertClientError("InvalidClientTokenId", c.get_caller_identity)


class RoutingTests(SandboxTestCase):
    def test_unknown_actions(self):
        key, secret = self.sb.credentials("mgmt")
        sr = SignedRequests(self.sb)
        status, _, body = sr.once("POST", "/", "sts", "us-east-1", key, secret,
                                  body=form("GetNothing", "2011-06-15"), headers=FORM)
        self.assertEqual((status, xml_code(body)), (400, "InvalidAction"))
        status, _, body = sr.once("POST", "/", "ec2", "us-east-1", key, secret,
                                  body=form("DescribeNothing", "2016-11-15"), headers=FORM)
        self.assertEqual((status, xml_code(body)), (400, "InvalidAction"))
        self.assertIn(b"<Response><Errors><Error>", body)
        status, headers, body = sr.once(
            "POST", "/", "organizations", "us-east-1", key, secret, body=b"{}",
            headers={"X-Amz-Target": "AWSOrganizationsV20161128.ListNothing",
                     "Content-Type": "application/x-amz-json-1.1"})
        self.assertEqual(status, 400)
        self.assertIn(b"UnknownOperationException", body)
        # A target prefix of another service is not this service's operation.
        status, _, body = sr.once(
            "POST", "/", "organizations", "us-east-1", key, secret, body=b"{}",
            headers={"X-Amz-Target": "AWSInsightsIndexService.ListAccounts",
                     "Content-Type": "application/x-amz-json-1.1"})
        self.assertIn(b"UnknownOperationException", body)

    def test_query_string_action(self):
        # Query-protocol actions may come as GET with the query string.
        key, secret = self.sb.credentials("mgmt")
        sr = SignedRequests(self.sb)
        status, _, body = sr.once("GET", "/", "sts", "us-east-1", key, secret,
                                  query="Action=GetCallerIdentity&Version=2011-06-15")
        self.assertEqual(status, 200, body)
        self.assertIn(b"<GetCallerIdentityResponse", body)
        self.assertIn(b"<GetCallerIdentityResult>", body)
        self.assertIn(b"<RequestId>", body)

    def test_protocol_headers(self):
        key, secret = self.sb.credentials("mgmt")
        sr = SignedRequests(self.sb)
        status, headers, body = sr.once(
            "POST", "/", "organizations", "us-east-1", key, secret, body=b"{}",
            headers={"X-Amz-Target": "AWSOrganizationsV20161128.DescribeOrganization",
                     "Content-Type": "application/x-amz-json-1.1"})
        self.assertEqual(status, 200, body)
        lower = {k.lower(): v for k, v in headers.items()}
        self.assertEqual(lower["content-type"], "application/x-amz-json-1.1")
        self.assertTrue(lower["x-amzn-requestid"])
        status, headers, body = sr.once("GET", "/", "s3", "us-east-1", key, secret,
                                        headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
        self.assertEqual(status, 200, body)
        lower = {k.lower(): v for k, v in headers.items()}
        self.assertTrue(lower["x-amz-request-id"])
        self.assertTrue(body.startswith(b"<?xml"))
        status, headers, body = sr.once("POST", "/", "ec2", "us-east-1", key, secret,
                                        body=form("DescribeRegions", "2016-11-15"), headers=FORM)
        self.assertEqual(status, 200, body)
        self.assertIn(b"<requestId>", body)

    def test_keep_alive(self):
        key, secret = self.sb.credentials("mgmt")
        sr = SignedRequests(self.sb)
        conn = http.client.HTTPConnection("127.0.0.1", self.sb.port, timeout=30)
        conn.connect()
        sock = conn.sock
        for i in range(20):
            prepared = sr.prepare("POST", "/", "ec2", "us-east-1", key, secret,
                                  body=form("DescribeInstances", "2016-11-15",
                                            MaxResults=str(5 + i)), headers=FORM)
            status, headers, body = sr.send(conn, prepared)
            self.assertEqual(status, 200, body)
            self.assertIs(conn.sock, sock, "the server closed the kept-alive connection")
        conn.close()

    def test_s3_presigned_url(self):
        from botocore.config import Config
        s3 = self.sb.client("s3", "mgmt", config=Config(signature_version="s3v4"))
        bucket = s3.list_buckets()["Buckets"][0]["Name"]
        url = s3.generate_presigned_url("get_bucket_location", Params={"Bucket": bucket},
                                        ExpiresIn=300)
        with urllib.request.urlopen(url, timeout=30) as resp:
            self.assertEqual(resp.status, 200)
            self.assertIn(b"LocationConstraint", resp.read())
        bad = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(bad, timeout=30)
        self.assertEqual(cm.exception.code, 403)
        self.assertEqual(xml_code(cm.exception.read()), "SignatureDoesNotMatch")


class FaultTests(SandboxTestCase):
    def setUp(self):
        self.sb.reset()

    def test_throttling_per_protocol(self):
        self.sb.set_faults({"throttle": {"enabled": True,
                                         "describe": {"burst": 2, "rate": 0.001}}})
        ec2 = self.sb.client("ec2", "mgmt")
        ec2.describe_instances()
        ec2.describe_instances()
        resp = self.assertClientError("RequestLimitExceeded", ec2.describe_instances)
        self.assertEqual(resp["ResponseMetadata"]["HTTPStatusCode"], 503)
        # Another region has its own bucket.
        self.sb.client("ec2", "mgmt", region="eu-west-1").describe_instances()
        iam = self.sb.client("iam", "mgmt", region="us-east-1")
        iam.list_users()
        iam.list_users()
        self.assertClientError("Throttling", iam.list_users)
        org = self.sb.client("organizations", "mgmt", region="us-east-1")
        org.list_accounts()
        org.list_accounts()
        self.assertClientError("ThrottlingException", org.list_accounts)
        rc, out, err = self.sb.aws("ec2", "describe-instances")
        self.assertCliError("RequestLimitExceeded", rc, err)
        # Turned off through the admin API.
        self.sb.set_faults({"throttle": {"enabled": False}})
        for _ in range(5):
            ec2.describe_instances()

    def test_throttling_default_buckets(self):
        status, faults = self.sb.admin("GET", "/faults")
        self.assertEqual(faults["throttle"]["describe"], {"burst": 100.0, "rate": 20.0})
        self.assertEqual(faults["throttle"]["mutate"], {"burst": 50.0, "rate": 5.0})
        self.assertTrue(faults["throttle"]["enabled"])

    def test_injected_errors_and_latency(self):
        self.sb.set_faults({"error_rate": 1, "error_status": [503]})
        resp = self.assertClientError("Unavailable", self.sb.client("ec2").describe_instances)
        self.assertEqual(resp["ResponseMetadata"]["HTTPStatusCode"], 503)
        self.sb.set_faults({"error_rate": 1, "error_status": [500]})
        self.assertClientError("InternalFailure", self.sb.client("sts").get_caller_identity)
        # Clients are made before timing: building one costs a loaded machine
        # a good part of a second, which is not the sandbox's latency.
        sts, ec2 = self.sb.client("sts"), self.sb.client("ec2")
        self.sb.set_faults({"error_rate": 0,
                            "rules": [{"service": "sts", "latency_ms": 1000}]})
        t0 = time.monotonic()
        sts.get_caller_identity()
        self.assertGreaterEqual(time.monotonic() - t0, 1.0)
        t0 = time.monotonic()
        ec2.describe_regions()
        self.assertLess(time.monotonic() - t0, 0.8)

    def test_throttle_rate(self):
        # A share of calls throttled whatever the buckets hold; a rule
        # narrows it to one service (here: every EC2 call, no STS call).
        ec2, sts = self.sb.client("ec2"), self.sb.client("sts")
        self.sb.set_faults({"throttle_rate": 1})
        self.assertClientError("RequestLimitExceeded", ec2.describe_regions)
        self.assertClientError("Throttling", sts.get_caller_identity)
        self.sb.set_faults({"throttle_rate": 0,
                            "rules": [{"service": "ec2", "throttle_rate": 1}]})
        status, faults = self.sb.admin("GET", "/faults")
        self.assertEqual(faults["rules"][0]["throttle_rate"], 1.0)
        self.assertEqual(faults["throttle_rate"], 0.0)
        self.assertClientError("RequestLimitExceeded", ec2.describe_regions)
        sts.get_caller_identity()
        self.sb.set_faults({"rules": []})
        ec2.describe_regions()

    def test_dropped_connection(self):
        from botocore.exceptions import ConnectionClosedError, EndpointConnectionError
        self.sb.set_faults({"drop_rate": 1})
        with self.assertRaises((ConnectionClosedError, EndpointConnectionError)):
            self.sb.client("sts").get_caller_identity()
        self.sb.set_faults({"drop_rate": 0})
        self.sb.client("sts").get_caller_identity()

    def test_bad_fault_settings(self):
        status, body = self.sb.admin("PUT", "/faults", {"error_rate": 2})
        self.assertEqual(status, 400)
        self.assertIn("error_rate", body["error"])
        status, body = self.sb.admin("PUT", "/faults", {"nonsense": 1})
        self.assertEqual(status, 400)


class AdminTests(SandboxTestCase):
    def test_call_log(self):
        since = self.sb.last_seq()
        self.sb.client("ec2", "mgmt").describe_instances(MaxResults=6)
        key, _ = self.sb.credentials("mgmt")
        try:
            self.sb.client_with_keys("sts", key, WRONG_SECRET).get_caller_identity()
        except ClientError:
            pass
        calls = self.sb.calls(since)
        self.assertEqual(len(calls), 2, calls)
        ok, bad = calls
        self.assertEqual(ok["action"], "DescribeInstances")
        self.assertEqual(ok["service"], "ec2")
        self.assertEqual(ok["region"], self.sb.regions[0])
        self.assertEqual(ok["params"]["MaxResults"], "6")
        self.assertEqual(ok["status"], 200)
        self.assertTrue(ok["principal_arn"].endswith(":user/Administrator"))
        self.assertEqual(bad["error_code"], "SignatureDoesNotMatch")
        self.assertEqual(bad["status"], 403)
        self.assertIsNone(bad["principal_arn"])
        self.assertEqual(bad["access_key_id"], key)
        self.assertGreater(bad["seq"], ok["seq"])

    def test_call_log_records_assumed_role(self):
        since = self.sb.last_seq()
        account = self.sb.account_ids()[2]
        creds = self.sb.client("sts", "hub").assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/EscherReadOnly", RoleSessionName="audit",
            ExternalId=EXTERNAL_ID)["Credentials"]
        self.sb.client_with_keys("ec2", creds["AccessKeyId"], creds["SecretAccessKey"],
                                 creds["SessionToken"]).describe_instances()
        calls = self.sb.calls(since)
        assume, describe = calls[-2], calls[-1]
        self.assertEqual(assume["action"], "AssumeRole")
        self.assertEqual(assume["params"]["ExternalId"], EXTERNAL_ID)
        self.assertEqual(describe["account"], account)
        self.assertEqual(describe["assumed_role_arn"],
                         f"arn:aws:iam::{account}:role/EscherReadOnly")
        self.assertEqual(describe["session_name"], "audit")
        self.assertEqual(describe["external_id"], EXTERNAL_ID)

    def test_clear_and_state_and_health(self):
        self.sb.client("sts").get_caller_identity()
        status, body = self.sb.admin("DELETE", "/calls")
        self.assertEqual(status, 200)
        self.assertEqual(self.sb.calls(0), [])
        status, state = self.sb.admin("GET", "/state")
        self.assertEqual(status, 200)
        self.assertIsInstance(state, dict)
        status, body = self.sb.admin("GET", "/healthz")
        self.assertEqual((status, body["ok"]), (200, True))
        status, body = self.sb.admin("GET", "/nowhere")
        self.assertEqual(status, 404)
        status, body = self.sb.admin("POST", "/clock/advance", {"seconds": -5})
        self.assertEqual(status, 400)

    def test_reset_clears_sessions(self):
        account = self.sb.account_ids()[1]
        creds = self.sb.client("sts", "hub").assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/EscherReadOnly", RoleSessionName="gone",
            ExternalId=EXTERNAL_ID)["Credentials"]
        self.sb.reset()
        self.assertClientError("InvalidClientTokenId", self.sb.client_with_keys(
            "sts", creds["AccessKeyId"], creds["SecretAccessKey"],
            creds["SessionToken"]).get_caller_identity)
        # Long-term keys survive: the world is rebuilt from the same seed.
        self.assertIn("Arn", self.sb.client("sts", "mgmt").get_caller_identity())


if __name__ == "__main__":
    main()
