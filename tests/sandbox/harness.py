"""Test harness for escher-sandbox with real AWS clients.

Starts build/services/sandbox/escher-sandbox (ESCHER_BUILD_DIR) on free
loopback ports with a small world and a temporary AWS config, and gives:

    sb = Sandbox(); sb.start()
    sb.client("ec2", profile="mgmt", region="eu-west-1")   # boto3 client
    sb.session("hub")                                       # boto3 Session
    rc, out, err = sb.aws("ec2", "describe-instances", profile="mgmt")
    status, body = sb.admin("GET", "/calls?since=0")
    sb.stop()   # raises if the process did not exit cleanly (ASan, leaks)

or, per test class, subclass SandboxTestCase (one sandbox for the class;
override `sandbox_options` for other arguments).

Clients are Debian's: /usr/bin/aws and boto3 under /usr/bin/python3, never
whatever else is first on PATH.
"""

import configparser
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import warnings

import boto3
import botocore.session
from botocore.config import Config

AWS_CLI = "/usr/bin/aws"
EXTERNAL_ID = "test-external-id-0123456789"
REGIONS = ("us-east-1", "eu-west-1")


def sandbox_binary():
    build = os.environ.get("ESCHER_BUILD_DIR")
    if not build:
        here = os.path.dirname(os.path.abspath(__file__))
        build = os.path.join(here, "..", "..", "build")
    path = os.path.join(build, "services", "sandbox", "escher-sandbox")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{path} is missing: build escher-sandbox or set ESCHER_BUILD_DIR")
    return path


class Sandbox:
    """One escher-sandbox process with its own temporary AWS config."""

    def __init__(self, accounts=3, regions=REGIONS, seed=7, external_id=EXTERNAL_ID,
                 throttle=True, extra_args=()):
        self.args = ["--accounts", str(accounts), "--regions", ",".join(regions),
                     "--seed", str(seed), "--external-id", external_id]
        if not throttle:
            self.args.append("--no-throttle")
        self.args += list(extra_args)
        self.regions = tuple(regions)
        self.external_id = external_id
        self.proc = None
        self.tmp = None
        self.port = None
        self.admin_port = None
        self.info = None

    # ---- lifetime ----

    def start(self, timeout=60):
        self.tmp = tempfile.mkdtemp(prefix="escher-sandbox-test-")
        self.config_dir = os.path.join(self.tmp, "aws")
        self.log_path = os.path.join(self.tmp, "sandbox.log")
        self._log = open(self.log_path, "wb")
        cmd = [sandbox_binary(), "--listen", "127.0.0.1", "--port", "0", "--admin-port", "0",
               "--aws-config", self.config_dir, "--log-level", "info"] + self.args
        env = {k: v for k, v in os.environ.items() if not k.startswith("ESCHER_SANDBOX_")}
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.info = self._listening_line()
            if self.info:
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"escher-sandbox exited with {self.proc.returncode}:\n"
                                   + self.log_text())
            time.sleep(0.02)
        else:
            self.stop(check=False)
            raise RuntimeError("escher-sandbox did not start in time:\n" + self.log_text())
        self.port = self.info["port"]
        self.admin_port = self.info["admin_port"]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        status, _ = self.admin("GET", "/healthz")
        if status != 200:
            raise RuntimeError(f"admin /healthz answered {status}")
        return self

    def _listening_line(self):
        with open(self.log_path, "rb") as f:
            for line in f:
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if obj.get("msg") == "listening":
                    return obj
        return None

    def log_text(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, check=True):
        """Stops the process with SIGTERM. With check, raises when it did not
        exit 0 or its log shows a sanitizer report."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        rc = self.proc.returncode
        text = self.log_text()
        self.proc = None
        shutil.rmtree(self.tmp, ignore_errors=True)
        if check:
            bad = [m for m in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
                   if m in text]
            if rc != 0 or bad:
                raise AssertionError(f"escher-sandbox exited with {rc} {bad}:\n{text[-6000:]}")

    # ---- profiles ----

    def profiles(self):
        cp = configparser.ConfigParser()
        cp.read(os.path.join(self.config_dir, "credentials"))
        return cp.sections()

    def account_ids(self):
        """Accounts of the organization, management first (from the acct-* profiles)."""
        mgmt = self.account_of("mgmt")
        ids = [p[5:] for p in self.profiles() if p.startswith("acct-")]
        return [mgmt] + [i for i in ids if i != mgmt]

    def account_of(self, profile):
        return self.sts_identity(profile)["Account"]

    def sts_identity(self, profile):
        return self.client("sts", profile).get_caller_identity()

    def credentials(self, profile):
        cp = configparser.ConfigParser()
        cp.read(os.path.join(self.config_dir, "credentials"))
        return cp[profile]["aws_access_key_id"], cp[profile]["aws_secret_access_key"]

    # ---- clients ----

    def session(self, profile="mgmt"):
        bs = botocore.session.Session()
        bs.set_config_variable("config_file", os.path.join(self.config_dir, "config"))
        bs.set_config_variable("credentials_file", os.path.join(self.config_dir, "credentials"))
        bs.set_config_variable("profile", profile)
        return boto3.Session(botocore_session=bs)

    def client(self, service, profile="mgmt", region=None, retries=1, **kwargs):
        """A boto3 client on the sandbox. retries=1: one attempt, so errors
        such as throttling reach the test instead of being retried."""
        config = kwargs.pop("config", None) or Config(
            retries={"mode": "standard", "max_attempts": retries})
        return self.session(profile).client(service, endpoint_url=self.endpoint,
                                            region_name=region or self.regions[0],
                                            config=config, **kwargs)

    def client_with_keys(self, service, key, secret, token=None, region=None, retries=1):
        return boto3.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                             aws_session_token=token).client(
            service, endpoint_url=self.endpoint, region_name=region or self.regions[0],
            config=Config(retries={"mode": "standard", "max_attempts": retries}))

    def aws_env(self, profile=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["AWS_CONFIG_FILE"] = os.path.join(self.config_dir, "config")
        env["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(self.config_dir, "credentials")
        env["AWS_MAX_ATTEMPTS"] = "1"
        env["AWS_RETRY_MODE"] = "standard"
        env["AWS_PAGER"] = ""
        if profile:
            env["AWS_PROFILE"] = profile
        return env

    def aws(self, *args, profile="mgmt", region=None, env=None, timeout=120):
        """Runs /usr/bin/aws on the sandbox: (returncode, parsed JSON or None, stderr).
        profile=None leaves the credentials to env (AWS_ACCESS_KEY_ID, ...)."""
        cmd = [AWS_CLI, "--endpoint-url", self.endpoint, "--output", "json"]
        if profile:  # None: credentials from env (e.g. AWS_ACCESS_KEY_ID)
            cmd += ["--profile", profile]
        if region:
            cmd += ["--region", region]
        cmd += [str(a) for a in args]
        e = self.aws_env()
        if env:
            e.update(env)
        p = subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=timeout)
        out = None
        if p.stdout.strip():
            try:
                out = json.loads(p.stdout)
            except ValueError:
                out = p.stdout
        return p.returncode, out, p.stderr

    # ---- admin API ----

    def admin(self, method, path, body=None):
        """(status, parsed JSON) from the admin endpoint."""
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=60)
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if data is not None else {}
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
        finally:
            conn.close()

    def calls(self, since=0):
        status, body = self.admin("GET", f"/calls?since={since}")
        assert status == 200, body
        return body["calls"]

    def last_seq(self):
        status, body = self.admin("GET", "/calls?since=0&limit=0")
        return body["next"]

    def advance_clock(self, seconds):
        status, body = self.admin("POST", "/clock/advance", {"seconds": seconds})
        assert status == 200, body
        return body

    def set_faults(self, faults):
        status, body = self.admin("PUT", "/faults", faults)
        assert status == 200, body
        return body

    def reset(self):
        status, body = self.admin("POST", "/reset")
        assert status == 200, body
        return body


class SandboxTestCase(unittest.TestCase):
    """One sandbox per test class. Override sandbox_options (keyword
    arguments of Sandbox) for another world."""

    sandbox_options = {}
    sb = None

    def setUp(self):
        super().setUp()
        # boto3 clients made per call keep their pooled sockets until
        # collected; the warnings would drown the test output.
        warnings.simplefilter("ignore", ResourceWarning)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sb = Sandbox(**cls.sandbox_options).start()

    @classmethod
    def tearDownClass(cls):
        sb, cls.sb = cls.sb, None
        if sb:
            sb.stop(check=True)
        super().tearDownClass()

    def assertClientError(self, code, fn, *args, **kwargs):
        """Calls fn and asserts it raises botocore ClientError with code;
        returns the error response."""
        from botocore.exceptions import ClientError
        with self.assertRaises(ClientError) as cm:
            fn(*args, **kwargs)
        got = cm.exception.response["Error"]["Code"]
        self.assertEqual(got, code, cm.exception.response)
        return cm.exception.response

    def assertCliError(self, code, rc, err):
        self.assertNotEqual(rc, 0, err)
        self.assertIn(f"({code})", err)


def main():
    unittest.main(verbosity=2)
