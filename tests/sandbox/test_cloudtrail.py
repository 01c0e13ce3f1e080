"""CloudTrail (JSON 1.1) in escher-sandbox with boto3 and the AWS CLI:
DescribeTrails (home and shadow trails, trailNameList) and GetTrailStatus
(by name and ARN, TrailNotFoundException), against the world's trails."""

from harness import SandboxTestCase, main


def profile_of(account):
    return "mgmt" if account["is_management"] else "acct-" + account["id"]


class CloudTrailTest(SandboxTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        status, state = cls.sb.admin("GET", "/state")
        assert status == 200
        cls.state = state
        cls.with_trails = [a for a in state["accounts"] if a["trails"]]
        assert cls.with_trails, "the world has no trail"

    def ct(self, account, region):
        return self.sb.client("cloudtrail", profile_of(account), region=region)

    def test_describe_trails_every_region(self):
        checked_shadow = False
        for a in self.state["accounts"]:
            for region in self.sb.regions:
                got = self.ct(a, region).describe_trails()["trailList"]
                want = [t for t in a["trails"]
                        if t["home_region"] == region or t["multi_region"]]
                self.assertEqual([t["TrailARN"] for t in got], [t["arn"] for t in want])
                for g, w in zip(got, want):
                    self.assertEqual(g["Name"], w["name"])
                    self.assertEqual(g["HomeRegion"], w["home_region"])
                    self.assertEqual(g["IsMultiRegionTrail"], w["multi_region"])
                    self.assertEqual(g["LogFileValidationEnabled"], w["log_file_validation"])
                    self.assertEqual(g["S3BucketName"], w["s3_bucket"])
                    self.assertEqual(g.get("KmsKeyId"), w["kms_key_id"])
                    checked_shadow |= w["home_region"] != region
                # Without shadow trails only the home region's trails remain.
                home = self.ct(a, region).describe_trails(includeShadowTrails=False)["trailList"]
                self.assertEqual([t["TrailARN"] for t in home],
                                 [t["arn"] for t in a["trails"] if t["home_region"] == region])
        self.assertTrue(checked_shadow, "no multi-region trail seen from another region")

    def test_describe_by_name_list(self):
        a = self.with_trails[0]
        t = a["trails"][0]
        ct = self.ct(a, t["home_region"])
        got = ct.describe_trails(trailNameList=[t["name"], "no-such-trail"])["trailList"]
        self.assertEqual([x["Name"] for x in got], [t["name"]])
        got = ct.describe_trails(trailNameList=[t["arn"]])["trailList"]
        self.assertEqual([x["TrailARN"] for x in got], [t["arn"]])

    def test_trail_status(self):
        for a in self.with_trails:
            for t in a["trails"]:
                ct = self.ct(a, t["home_region"])
                for name in (t["name"], t["arn"]):
                    st = ct.get_trail_status(Name=name)
                    self.assertEqual(st["IsLogging"], t["logging"])
                    if t["logging"]:
                        self.assertIn("LatestDeliveryTime", st)
                        self.assertNotIn("StopLoggingTime", st)
                    else:
                        self.assertIn("StopLoggingTime", st)
                    self.assertIn("StartLoggingTime", st)

    def test_trail_not_found(self):
        a = self.with_trails[0]
        region = self.sb.regions[0]
        r = self.assertClientError("TrailNotFoundException", self.ct(a, region).get_trail_status,
                                   Name="no-such-trail")
        self.assertEqual(r["Error"]["Message"],
                         f"Unknown trail: arn:aws:cloudtrail:{region}:{a['id']}:trail/"
                         f"no-such-trail for the user: {a['id']}")

    def test_cli(self):
        a = self.with_trails[0]
        t = a["trails"][0]
        rc, out, err = self.sb.aws("cloudtrail", "describe-trails", profile=profile_of(a),
                                   region=t["home_region"])
        self.assertEqual(rc, 0, err)
        self.assertIn(t["arn"], [x["TrailARN"] for x in out["trailList"]])
        rc, out, err = self.sb.aws("cloudtrail", "get-trail-status", "--name", t["arn"],
                                   profile=profile_of(a), region=t["home_region"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["IsLogging"], t["logging"])
        rc, out, err = self.sb.aws("cloudtrail", "get-trail-status", "--name", "nope",
                                   profile=profile_of(a), region=t["home_region"])
        self.assertCliError("TrailNotFoundException", rc, err)


if __name__ == "__main__":
    main()
