"""IAM against escher-sandbox with Debian's aws CLI and boto3: users with
Marker paging, access keys, MFA devices, the credential report's life
cycle and CSV, the password policy and the account summary."""

import base64
import csv
import datetime
import io
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import EXTERNAL_ID, SandboxTestCase, main  # noqa: E402

REPORT_HEADER = [
    "user", "arn", "user_creation_time", "password_enabled", "password_last_used",
    "password_last_changed", "password_next_rotation", "mfa_active", "access_key_1_active",
    "access_key_1_last_rotated", "access_key_1_last_used_date", "access_key_1_last_used_region",
    "access_key_1_last_used_service", "access_key_2_active", "access_key_2_last_rotated",
    "access_key_2_last_used_date", "access_key_2_last_used_region",
    "access_key_2_last_used_service", "cert_1_active", "cert_1_last_rotated", "cert_2_active",
    "cert_2_last_rotated",
]


class IamTest(SandboxTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accounts = cls.sb.account_ids()
        cls.mgmt = cls.accounts[0]
        cls.member = cls.accounts[1]
        cls.iam = cls.sb.client("iam", "mgmt")

    def all_users(self):
        return self.iam.list_users()["Users"]

    def test_list_users_shape(self):
        out = self.iam.list_users()
        self.assertFalse(out["IsTruncated"])
        self.assertNotIn("Marker", out)
        users = out["Users"]
        self.assertGreaterEqual(len(users), 3)
        names = [u["UserName"] for u in users]
        self.assertEqual(len(names), len(set(names)))
        for u in users:
            self.assertEqual(u["Path"], "/")
            self.assertTrue(u["UserId"].startswith("AIDA"), u)
            self.assertEqual(u["Arn"], f"arn:aws:iam::{self.mgmt}:user/{u['UserName']}")
            self.assertIsInstance(u["CreateDate"], datetime.datetime)
        rc, cli, err = self.sb.aws("iam", "list-users", profile="mgmt")
        self.assertEqual(rc, 0, err)
        self.assertEqual([u["UserName"] for u in cli["Users"]], names)
        # Each account has its own users.
        other = self.sb.client("iam", f"acct-{self.member}").list_users()["Users"]
        self.assertTrue(all(f":{self.member}:" in u["Arn"] for u in other))

    def test_list_users_paging(self):
        names = [u["UserName"] for u in self.all_users()]
        seen, marker, pages = [], None, 0
        while True:
            kwargs = {"MaxItems": 2}
            if marker:
                kwargs["Marker"] = marker
            page = self.iam.list_users(**kwargs)
            pages += 1
            self.assertLessEqual(len(page["Users"]), 2)
            seen += [u["UserName"] for u in page["Users"]]
            if not page["IsTruncated"]:
                self.assertNotIn("Marker", page)
                break
            marker = page["Marker"]
        self.assertEqual(seen, names)
        self.assertEqual(pages, (len(names) + 1) // 2)
        # The paginator and the CLI (which auto-paginates) agree.
        pag = [u["UserName"] for p in self.iam.get_paginator("list_users").paginate(
            PaginationConfig={"PageSize": 3}) for u in p["Users"]]
        self.assertEqual(pag, names)
        rc, cli, err = self.sb.aws("iam", "list-users", "--page-size", "1", profile="mgmt")
        self.assertEqual(rc, 0, err)
        self.assertEqual([u["UserName"] for u in cli["Users"]], names)
        rc, cli, err = self.sb.aws("iam", "list-users", "--max-items", "1", profile="mgmt")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(cli["Users"]), 1)
        self.assertIn("NextToken", cli)
        self.assertClientError("InvalidParameterValue", self.iam.list_users, Marker="bogus")

    def test_list_access_keys(self):
        me = self.sb.client("sts", "mgmt").get_caller_identity()["Arn"].split("/")[-1]
        key_id, _ = self.sb.credentials("mgmt")
        own = self.iam.list_access_keys()
        self.assertIn(key_id, [k["AccessKeyId"] for k in own["AccessKeyMetadata"]])
        for k in own["AccessKeyMetadata"]:
            self.assertEqual(k["UserName"], me)
            self.assertIn(k["Status"], ("Active", "Inactive"))
            self.assertTrue(k["AccessKeyId"].startswith("AKIA"))
            self.assertIsInstance(k["CreateDate"], datetime.datetime)
        total = 0
        for u in self.all_users():
            keys = self.iam.list_access_keys(UserName=u["UserName"])["AccessKeyMetadata"]
            self.assertTrue(all(k["UserName"] == u["UserName"] for k in keys))
            self.assertLessEqual(len(keys), 2)
            total += len(keys)
        self.assertGreater(total, 1)
        resp = self.assertClientError("NoSuchEntity", self.iam.list_access_keys,
                                      UserName="nobody-here")
        self.assertEqual(resp["Error"]["Message"], "The user with name nobody-here cannot be found.")
        self.assertEqual(resp["ResponseMetadata"]["HTTPStatusCode"], 404)
        rc, cli, err = self.sb.aws("iam", "list-access-keys", "--user-name", me, profile="mgmt")
        self.assertEqual(rc, 0, err)
        self.assertEqual([k["AccessKeyId"] for k in cli["AccessKeyMetadata"]],
                         [k["AccessKeyId"] for k in own["AccessKeyMetadata"]])
        rc, _, err = self.sb.aws("iam", "list-access-keys", "--user-name", "nobody-here",
                                 profile="mgmt")
        self.assertCliError("NoSuchEntity", rc, err)

    def test_list_access_keys_from_role_needs_user_name(self):
        creds = self.sb.client("sts", "hub").assume_role(
            RoleArn=f"arn:aws:iam::{self.member}:role/EscherReadOnly", RoleSessionName="iam-ro",
            ExternalId=EXTERNAL_ID)["Credentials"]
        iam = self.sb.client_with_keys("iam", creds["AccessKeyId"], creds["SecretAccessKey"],
                                       creds["SessionToken"])
        resp = self.assertClientError("ValidationError", iam.list_access_keys)
        self.assertEqual(resp["Error"]["Message"],
                         "Must specify userName when calling with non-User credentials")
        users = iam.list_users()["Users"]
        self.assertTrue(users and all(f":{self.member}:" in u["Arn"] for u in users))

    def test_list_mfa_devices(self):
        with_mfa = 0
        for u in self.all_users():
            devs = self.iam.list_mfa_devices(UserName=u["UserName"])["MFADevices"]
            for d in devs:
                with_mfa += 1
                self.assertEqual(d["UserName"], u["UserName"])
                self.assertEqual(d["SerialNumber"],
                                 f"arn:aws:iam::{self.mgmt}:mfa/{u['UserName']}")
                self.assertIsInstance(d["EnableDate"], datetime.datetime)
        self.assertGreater(with_mfa, 0)
        self.assertLess(with_mfa, len(self.all_users()))
        rc, cli, err = self.sb.aws("iam", "list-mfa-devices", profile="mgmt")
        self.assertEqual(rc, 0, err)
        self.assertIn("MFADevices", cli)
        self.assertClientError("NoSuchEntity", self.iam.list_mfa_devices, UserName="ghost")

    def test_credential_report(self):
        iam = self.sb.client("iam", f"acct-{self.member}")
        resp = self.assertClientError("ReportNotPresent", iam.get_credential_report)
        self.assertEqual(resp["ResponseMetadata"]["HTTPStatusCode"], 410)
        first = iam.generate_credential_report()
        self.assertEqual(first["State"], "STARTED")
        self.assertIn("Description", first)
        self.assertEqual(iam.generate_credential_report()["State"], "COMPLETE")
        report = iam.get_credential_report()
        self.assertEqual(report["ReportFormat"], "text/csv")
        self.assertIsInstance(report["GeneratedTime"], datetime.datetime)
        text = report["Content"].decode()
        rows = list(csv.reader(io.StringIO(text)))
        self.assertEqual(rows[0], REPORT_HEADER)
        self.assertEqual(rows[1][0], "<root_account>")
        self.assertEqual(rows[1][1], f"arn:aws:iam::{self.member}:root")
        self.assertEqual(rows[1][3], "not_supported")
        users = {u["UserName"]: u for u in iam.list_users()["Users"]}
        self.assertEqual(sorted(r[0] for r in rows[2:]), sorted(users))
        for r in rows[1:]:
            self.assertEqual(len(r), len(REPORT_HEADER))
        for r in rows[2:]:
            u = users[r[0]]
            self.assertEqual(r[1], u["Arn"])
            created = datetime.datetime.fromisoformat(r[2])
            self.assertEqual(created, u["CreateDate"])
            self.assertIn(r[3], ("true", "false"))
            self.assertEqual(r[3] == "true", "PasswordLastUsed" in u or r[4] == "no_information")
            mfa = iam.list_mfa_devices(UserName=r[0])["MFADevices"]
            self.assertEqual(r[7], "true" if mfa else "false")
            keys = iam.list_access_keys(UserName=r[0])["AccessKeyMetadata"]
            if keys:
                self.assertEqual(r[8], "true" if keys[0]["Status"] == "Active" else "false")
                self.assertEqual(datetime.datetime.fromisoformat(r[9]), keys[0]["CreateDate"])
            else:
                self.assertEqual(r[8:13], ["false", "N/A", "N/A", "N/A", "N/A"])
        # The CLI shows the same report (blobs come back base64-encoded).
        rc, cli, err = self.sb.aws("iam", "get-credential-report",
                                   profile=f"acct-{self.member}")
        self.assertEqual(rc, 0, err)
        self.assertEqual(base64.b64decode(cli["Content"]).decode(), text)
        rc, _, err = self.sb.aws("iam", "get-credential-report", profile="mgmt")
        self.assertCliError("ReportNotPresent", rc, err)
        # The CLI generates one too: STARTED, then COMPLETE, then it can be read.
        states = []
        for _ in range(2):
            rc, out, err = self.sb.aws("iam", "generate-credential-report", profile="mgmt")
            self.assertEqual(rc, 0, err)
            states.append(out["State"])
        self.assertEqual(states, ["STARTED", "COMPLETE"])
        rc, out, err = self.sb.aws("iam", "get-credential-report", profile="mgmt")
        self.assertEqual(rc, 0, err)
        mgmt_rows = list(csv.reader(io.StringIO(base64.b64decode(out["Content"]).decode())))
        self.assertEqual(mgmt_rows[0], REPORT_HEADER)
        self.assertEqual(mgmt_rows[1][1], f"arn:aws:iam::{self.mgmt}:root")

    def test_password_policy(self):
        found, missing = 0, 0
        for acct in self.accounts:
            iam = self.sb.client("iam", "mgmt" if acct == self.mgmt else f"acct-{acct}")
            try:
                pp = iam.get_account_password_policy()["PasswordPolicy"]
            except iam.exceptions.NoSuchEntityException as e:
                missing += 1
                self.assertEqual(e.response["Error"]["Message"],
                                 f"The Password Policy with domain name {acct} cannot be found.")
                self.assertEqual(e.response["ResponseMetadata"]["HTTPStatusCode"], 404)
                continue
            found += 1
            self.assertGreaterEqual(pp["MinimumPasswordLength"], 6)
            for k in ("RequireSymbols", "RequireNumbers", "RequireUppercaseCharacters",
                      "RequireLowercaseCharacters", "AllowUsersToChangePassword",
                      "ExpirePasswords"):
                self.assertIsInstance(pp[k], bool)
            self.assertEqual(pp["ExpirePasswords"], "MaxPasswordAge" in pp)
            profile = "mgmt" if acct == self.mgmt else f"acct-{acct}"
            rc, cli, err = self.sb.aws("iam", "get-account-password-policy", profile=profile)
            self.assertEqual(rc, 0, err)
            self.assertEqual(cli["PasswordPolicy"]["MinimumPasswordLength"],
                             pp["MinimumPasswordLength"])
        self.assertEqual(found + missing, len(self.accounts))

    def test_account_summary(self):
        summary = self.iam.get_account_summary()["SummaryMap"]
        self.assertEqual(summary["Users"], len(self.all_users()))
        self.assertIn(summary["AccountMFAEnabled"], (0, 1))
        self.assertEqual(summary["AccessKeysPerUserQuota"], 2)
        self.assertEqual(summary["UsersQuota"], 5000)
        self.assertGreaterEqual(summary["MFADevicesInUse"], 1)
        rc, cli, err = self.sb.aws("iam", "get-account-summary", profile="mgmt")
        self.assertEqual(rc, 0, err)
        self.assertEqual(cli["SummaryMap"], summary)

    def test_identity_policies_gate_iam(self):
        # Identity policies gate IAM too: the hub user has no IAM permission.
        resp = self.assertClientError("AccessDenied", self.sb.client("iam", "hub").list_users)
        self.assertIn("is not authorized to perform: iam:ListUsers", resp["Error"]["Message"])
        rc, _, err = self.sb.aws("iam", "get-account-summary", profile="hub")
        self.assertCliError("AccessDenied", rc, err)


if __name__ == "__main__":
    main()
