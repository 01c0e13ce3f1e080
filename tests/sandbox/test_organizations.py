"""Organizations against escher-sandbox with Debian's aws CLI and boto3:
the organization, its root, OUs and accounts, NextToken paging, and the
refusals for member accounts and accounts outside the organization."""

import datetime
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import SandboxTestCase, main  # noqa: E402


class OrganizationsTest(SandboxTestCase):
    sandbox_options = {"accounts": 5}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accounts = cls.sb.account_ids()
        cls.mgmt = cls.accounts[0]
        cls.member = cls.accounts[1]
        cls.org = cls.sb.client("organizations", "mgmt")

    def list_all(self, method, key, page_size, **kwargs):
        items, token, pages = [], None, 0
        while True:
            args = dict(kwargs, MaxResults=page_size)
            if token:
                args["NextToken"] = token
            page = getattr(self.org, method)(**args)
            pages += 1
            self.assertLessEqual(len(page[key]), page_size)
            items += page[key]
            token = page.get("NextToken")
            if not token:
                return items, pages

    def test_describe_organization(self):
        o = self.org.describe_organization()["Organization"]
        self.assertRegex(o["Id"], r"^o-[a-z0-9]{10,32}$")
        self.assertEqual(o["Arn"], f"arn:aws:organizations::{self.mgmt}:organization/{o['Id']}")
        self.assertEqual(o["MasterAccountId"], self.mgmt)
        self.assertEqual(o["MasterAccountArn"],
                         f"arn:aws:organizations::{self.mgmt}:account/{o['Id']}/{self.mgmt}")
        self.assertEqual(o["FeatureSet"], "ALL")
        self.assertIn("@", o["MasterAccountEmail"])
        self.assertEqual(o["AvailablePolicyTypes"][0]["Type"], "SERVICE_CONTROL_POLICY")
        # Any member may describe its organization.
        rc, cli, err = self.sb.aws("organizations", "describe-organization",
                                   profile=f"acct-{self.member}")
        self.assertEqual(rc, 0, err)
        self.assertEqual(cli["Organization"]["Id"], o["Id"])

    def test_list_accounts(self):
        accounts = self.org.list_accounts()["Accounts"]
        self.assertEqual([a["Id"] for a in accounts][0], self.mgmt)
        self.assertEqual(sorted(a["Id"] for a in accounts), sorted(self.accounts))
        org_id = self.org.describe_organization()["Organization"]["Id"]
        for a in accounts:
            self.assertRegex(a["Id"], r"^\d{12}$")
            self.assertEqual(a["Arn"],
                             f"arn:aws:organizations::{self.mgmt}:account/{org_id}/{a['Id']}")
            self.assertEqual(a["Status"], "ACTIVE")
            self.assertIn(a["JoinedMethod"], ("INVITED", "CREATED"))
            self.assertIsInstance(a["JoinedTimestamp"], datetime.datetime)
            self.assertTrue(a["Name"])
            self.assertIn("@", a["Email"])

    def test_list_accounts_paging(self):
        every = self.org.list_accounts()["Accounts"]
        self.assertEqual(len(every), 6)
        paged, pages = self.list_all("list_accounts", "Accounts", 1)
        self.assertEqual(pages, len(every))
        self.assertEqual(paged, every)
        paged, pages = self.list_all("list_accounts", "Accounts", 4)
        self.assertEqual(pages, 2)
        self.assertEqual([a["Id"] for a in paged], [a["Id"] for a in every])
        pag = [a["Id"] for p in self.org.get_paginator("list_accounts").paginate(
            PaginationConfig={"PageSize": 2}) for a in p["Accounts"]]
        self.assertEqual(pag, [a["Id"] for a in every])
        # The CLI auto-paginates: every account even with one per page.
        rc, cli, err = self.sb.aws("organizations", "list-accounts", "--page-size", "1",
                                   profile="mgmt")
        self.assertEqual(rc, 0, err)
        self.assertEqual([a["Id"] for a in cli["Accounts"]], [a["Id"] for a in every])
        rc, cli, err = self.sb.aws("organizations", "list-accounts", profile="mgmt")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(cli["Accounts"]), len(every))
        first = self.org.list_accounts(MaxResults=1)
        self.assertIn("NextToken", first)
        self.assertClientError("InvalidInputException", self.org.list_accounts,
                               NextToken="not-a-token")
        # A token is bound to its listing.
        roots = self.org.list_roots()["Roots"]
        ous = self.org.list_organizational_units_for_parent(ParentId=roots[0]["Id"],
                                                             MaxResults=1)
        if "NextToken" in ous:
            self.assertClientError("InvalidInputException", self.org.list_accounts,
                                   NextToken=ous["NextToken"])
        self.assertClientError("InvalidInputException", self.org.list_accounts, MaxResults=21)

    def test_roots_ous_and_parents(self):
        roots = self.org.list_roots()["Roots"]
        self.assertEqual(len(roots), 1)
        root = roots[0]
        org_id = self.org.describe_organization()["Organization"]["Id"]
        self.assertRegex(root["Id"], r"^r-[0-9a-z]{4,32}$")
        self.assertEqual(root["Arn"], f"arn:aws:organizations::{self.mgmt}:root/{org_id}/"
                                      f"{root['Id']}")
        self.assertEqual(root["Name"], "Root")
        ous, _ = self.list_all("list_organizational_units_for_parent", "OrganizationalUnits", 1,
                               ParentId=root["Id"])
        self.assertTrue(ous)
        for ou in ous:
            self.assertRegex(ou["Id"], r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$")
            self.assertTrue(ou["Id"].startswith("ou-" + root["Id"][2:] + "-"))
            self.assertEqual(ou["Arn"], f"arn:aws:organizations::{self.mgmt}:ou/{org_id}/"
                                        f"{ou['Id']}")
        # Every account sits under exactly one parent: the root or one OU.
        placed = [a["Id"] for a in self.list_all("list_accounts_for_parent", "Accounts", 1,
                                                 ParentId=root["Id"])[0]]
        for ou in ous:
            rc, cli, err = self.sb.aws("organizations", "list-accounts-for-parent",
                                       "--parent-id", ou["Id"], profile="mgmt")
            self.assertEqual(rc, 0, err)
            placed += [a["Id"] for a in cli["Accounts"]]
            rc, sub, err = self.sb.aws("organizations", "list-organizational-units-for-parent",
                                       "--parent-id", ou["Id"], profile="mgmt")
            self.assertEqual(rc, 0, err)
            self.assertIsInstance(sub["OrganizationalUnits"], list)
        self.assertEqual(sorted(placed), sorted(self.accounts))
        rc, cli, err = self.sb.aws("organizations", "list-roots", profile="mgmt")
        self.assertEqual(rc, 0, err)
        self.assertEqual(cli["Roots"][0]["Id"], root["Id"])

    def test_parent_errors(self):
        root = self.org.list_roots()["Roots"][0]["Id"]
        missing = "ou-" + root[2:] + "-zzzzzzzz"
        resp = self.assertClientError("ParentNotFoundException",
                                      self.org.list_accounts_for_parent, ParentId=missing)
        self.assertEqual(resp["Error"]["Message"],
                         "We can't find a root or OU with the ParentId that you specified.")
        self.assertClientError("ParentNotFoundException",
                               self.org.list_organizational_units_for_parent, ParentId="r-zzzz")
        self.assertClientError("InvalidInputException", self.org.list_accounts_for_parent,
                               ParentId="not-a-parent")
        rc, _, err = self.sb.aws("organizations", "list-accounts-for-parent", "--parent-id",
                                 missing, profile="mgmt")
        self.assertCliError("ParentNotFoundException", rc, err)

    def test_member_account_refused(self):
        org = self.sb.client("organizations", f"acct-{self.member}")
        for call in (org.list_accounts, org.list_roots):
            resp = self.assertClientError("AccessDeniedException", call)
            self.assertEqual(resp["Error"]["Message"],
                             "You don't have permissions to access this resource.")
        rc, _, err = self.sb.aws("organizations", "list-accounts",
                                 profile=f"acct-{self.member}")
        self.assertCliError("AccessDeniedException", rc, err)
        self.assertIn("You don't have permissions to access this resource.", err)

    def test_hub_outside_organization(self):
        # The hub user has no Organizations permission at all; its identity
        # policy refuses before Organizations would say the hub's account is
        # not in an organization.
        resp = self.assertClientError("AccessDeniedException",
                                      self.sb.client("organizations", "hub").list_accounts)
        self.assertIn("organizations:ListAccounts", resp["Error"]["Message"])
        hub = self.sb.account_of("hub")
        self.assertNotIn(hub, self.accounts)
        ids = [a["Id"] for a in self.org.list_accounts()["Accounts"]]
        self.assertNotIn(hub, ids)

    def test_timestamps_are_epoch_seconds_on_the_wire(self):
        # botocore parses JSON timestamps from epoch numbers; check the raw body.
        import json
        raw = {}

        def grab(http_response, **_):
            raw["body"] = http_response.content

        org = self.sb.client("organizations", "mgmt")
        org.meta.events.register("after-call.organizations.ListAccounts",
                                 lambda **kw: grab(kw["http_response"]))
        org.list_accounts(MaxResults=2)
        body = json.loads(raw["body"])
        for a in body["Accounts"]:
            self.assertIsInstance(a["JoinedTimestamp"], (int, float))
        self.assertTrue(re.fullmatch(r"[0-9a-f]+", body["NextToken"]))


if __name__ == "__main__":
    main()
