"""Auto Scaling (query protocol) in escher-sandbox with boto3 and the AWS
CLI: DescribeAutoScalingGroups (names, MaxRecords/NextToken paging) and
UpdateAutoScalingGroup (size rules and their ValidationError messages)."""

from harness import SandboxTestCase, main


class AutoScalingTest(SandboxTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        status, state = cls.sb.admin("GET", "/state")
        assert status == 200
        # The first account and region with two groups or more.
        acct, cls.region = next((a, r) for a in state["accounts"] for r in a["regions"]
                                if len(r["asgs"]) >= 2)
        cls.profile = "mgmt" if acct["is_management"] else "acct-" + acct["id"]
        cls.asgs = cls.region["asgs"]
        cls.instances = {i["id"]: i for i in cls.region["instances"]}
        cls.client = cls.sb.client("autoscaling", cls.profile, region=cls.region["name"])

    def describe(self, **kw):
        return self.client.describe_auto_scaling_groups(**kw)

    def current_asgs(self):
        """The groups as the world holds them now (other tests update sizes)."""
        status, state = self.sb.admin("GET", "/state")
        self.assertEqual(status, 200)
        return next(r for a in state["accounts"] for r in a["regions"]
                    if r["asgs"] and r["asgs"][0]["arn"] == self.asgs[0]["arn"])["asgs"]

    def test_describe_matches_world(self):
        got = self.describe()["AutoScalingGroups"]
        asgs = self.current_asgs()
        self.assertEqual([g["AutoScalingGroupName"] for g in got], [g["name"] for g in asgs])
        for g, w in zip(got, asgs):
            self.assertEqual(g["AutoScalingGroupARN"], w["arn"])
            self.assertEqual(g["MinSize"], w["min_size"])
            self.assertEqual(g["MaxSize"], w["max_size"])
            self.assertEqual(g["DesiredCapacity"], w["desired"])
            self.assertEqual(g["LaunchTemplate"]["LaunchTemplateName"], w["launch_template"])
            self.assertEqual([i["InstanceId"] for i in g["Instances"]], w["instance_ids"])
            for i in g["Instances"]:
                self.assertEqual(i["InstanceType"], self.instances[i["InstanceId"]]["type"])
                self.assertEqual(i["AvailabilityZone"], self.instances[i["InstanceId"]]["az"])
            self.assertEqual({t["Key"]: t["Value"] for t in g["Tags"]},
                             {t["Key"]: t["Value"] for t in w["tags"]})
            self.assertTrue(g["AvailabilityZones"])

    def test_describe_by_name_and_paging(self):
        names = [g["name"] for g in self.asgs]
        got = self.describe(AutoScalingGroupNames=[names[1], "no-such-group"])
        self.assertEqual([g["AutoScalingGroupName"] for g in got["AutoScalingGroups"]],
                         [names[1]])
        seen, token, pages = [], None, 0
        while True:
            kw = {"NextToken": token} if token else {}
            out = self.describe(MaxRecords=1, **kw)
            pages += 1
            seen += [g["AutoScalingGroupName"] for g in out["AutoScalingGroups"]]
            token = out.get("NextToken")
            if not token:
                break
        self.assertEqual(seen, names)
        self.assertEqual(pages, len(names))
        self.assertClientError("ValidationError", self.describe, MaxRecords=101)

    def test_update_sizes(self):
        g = self.asgs[0]
        name = g["name"]
        self.client.update_auto_scaling_group(AutoScalingGroupName=name, MinSize=2, MaxSize=8,
                                              DesiredCapacity=3)
        got = self.describe(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
        self.assertEqual((got["MinSize"], got["MaxSize"], got["DesiredCapacity"]), (2, 8, 3))
        r = self.assertClientError("ValidationError", self.client.update_auto_scaling_group,
                                   AutoScalingGroupName=name, DesiredCapacity=9)
        self.assertEqual(r["Error"]["Message"],
                         "Desired capacity:9 must be between the specified min size:2 and max "
                         "size:8")
        # Raising MinSize alone pulls the desired capacity up with it.
        self.client.update_auto_scaling_group(AutoScalingGroupName=name, MinSize=5)
        got = self.describe(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
        self.assertEqual((got["MinSize"], got["DesiredCapacity"]), (5, 5))
        r = self.assertClientError("ValidationError", self.client.update_auto_scaling_group,
                                   AutoScalingGroupName="no-such-group", MaxSize=3)
        self.assertEqual(r["Error"]["Message"], "AutoScalingGroup name not found - null")
        self.assertClientError("ValidationError", self.client.update_auto_scaling_group,
                               AutoScalingGroupName=name, MinSize=9, MaxSize=4)

    def test_cli(self):
        name = self.asgs[-1]["name"]
        rc, out, err = self.sb.aws("autoscaling", "describe-auto-scaling-groups",
                                   "--auto-scaling-group-names", name, profile=self.profile,
                                   region=self.region["name"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["AutoScalingGroups"][0]["AutoScalingGroupName"], name)
        rc, out, err = self.sb.aws("autoscaling", "update-auto-scaling-group",
                                   "--auto-scaling-group-name", name, "--max-size", "7",
                                   "--desired-capacity", "1", "--min-size", "0", profile=self.profile,
                                   region=self.region["name"])
        self.assertEqual(rc, 0, err)
        rc, out, err = self.sb.aws("autoscaling", "describe-auto-scaling-groups",
                                   "--auto-scaling-group-names", name, profile=self.profile,
                                   region=self.region["name"])
        g = out["AutoScalingGroups"][0]
        self.assertEqual((g["MinSize"], g["MaxSize"], g["DesiredCapacity"]), (0, 7, 1))
        rc, out, err = self.sb.aws("autoscaling", "update-auto-scaling-group",
                                   "--auto-scaling-group-name", name, "--desired-capacity", "8",
                                   profile=self.profile, region=self.region["name"])
        self.assertCliError("ValidationError", rc, err)
        rc, out, err = self.sb.aws("autoscaling", "describe-auto-scaling-groups", "--page-size",
                                   "1", profile=self.profile, region=self.region["name"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out["AutoScalingGroups"]), len(self.asgs))


if __name__ == "__main__":
    main()
