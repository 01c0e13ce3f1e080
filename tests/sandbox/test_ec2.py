"""EC2 in escher-sandbox, proven with Debian's boto3 and aws CLI: regions,
instances (filters, ids, paging, state changes with their delays, DryRun,
resource-level authorization), instance attributes, tags, volumes,
snapshots, EBS encryption by default, security groups and addresses."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

DELAY = 30  # --state-delay: long enough to see every transitional state


def tag_value(tags, key):
    for t in tags or []:
        if t["Key"] == key:
            return t["Value"]
    return None


def instances_of(resp):
    return [i for r in resp["Reservations"] for i in r["Instances"]]


class EC2Test(harness.SandboxTestCase):
    sandbox_options = {"throttle": False, "extra_args": ("--state-delay", f"{DELAY}s")}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accounts = cls.sb.account_ids()

    def ec2(self, profile="mgmt", region=None):
        client = self.sb.client("ec2", profile=profile, region=region)
        self.addCleanup(client.close)
        return client

    def profile_of(self, i):
        """Profile of the i-th organization account (0: management)."""
        return "mgmt" if i == 0 else f"acct-{self.accounts[i]}"

    def all_instances(self, ec2, **kwargs):
        out = []
        for page in ec2.get_paginator("describe_instances").paginate(**kwargs):
            out += instances_of(page)
        return out

    def pick(self, ec2, state, exclude=()):
        for i in self.all_instances(ec2):
            if i["State"]["Name"] == state and i["InstanceId"] not in exclude:
                return i
        self.skipTest(f"no {state} instance in this world")

    def state_of(self, ec2, iid):
        resp = ec2.describe_instances(InstanceIds=[iid])
        return instances_of(resp)[0]

    # ---- regions ----

    def test_describe_regions(self):
        ec2 = self.ec2()
        regions = ec2.describe_regions()["Regions"]
        self.assertEqual(sorted(r["RegionName"] for r in regions), sorted(harness.REGIONS))
        for r in regions:
            self.assertEqual(r["Endpoint"], f"ec2.{r['RegionName']}.amazonaws.com")
            self.assertEqual(r["OptInStatus"], "opt-in-not-required")
        one = ec2.describe_regions(RegionNames=["eu-west-1"])["Regions"]
        self.assertEqual([r["RegionName"] for r in one], ["eu-west-1"])
        filt = ec2.describe_regions(Filters=[{"Name": "region-name", "Values": ["us-*"]}])
        self.assertEqual([r["RegionName"] for r in filt["Regions"]], ["us-east-1"])
        self.assertClientError("InvalidParameterValue", ec2.describe_regions,
                               RegionNames=["mars-north-1"])
        rc, out, err = self.sb.aws("ec2", "describe-regions")
        self.assertEqual(rc, 0, err)
        self.assertEqual(sorted(r["RegionName"] for r in out["Regions"]), sorted(harness.REGIONS))

    def test_region_not_simulated(self):
        ec2 = self.ec2(region="ap-south-1")
        self.assertEqual(ec2.describe_instances()["Reservations"], [])
        self.assertEqual(ec2.describe_volumes()["Volumes"], [])
        self.assertClientError("InvalidInstanceID.NotFound", ec2.stop_instances,
                               InstanceIds=["i-0123456789abcdef0"])

    # ---- DescribeInstances ----

    def test_describe_instances_shape(self):
        ec2 = self.ec2()
        resp = ec2.describe_instances()
        self.assertNotIn("NextToken", resp)
        self.assertTrue(resp["Reservations"])
        acct = self.accounts[0]
        ids = set()
        for r in resp["Reservations"]:
            self.assertTrue(r["ReservationId"].startswith("r-"))
            self.assertEqual(r["OwnerId"], acct)
            self.assertEqual(len(r["Instances"]), 1)
            i = r["Instances"][0]
            ids.add(i["InstanceId"])
            self.assertRegex(i["InstanceId"], r"^i-[0-9a-f]{17}$")
            self.assertIn(i["State"]["Name"],
                          {"pending", "running", "stopping", "stopped", "shutting-down",
                           "terminated"})
            self.assertEqual(i["State"]["Code"],
                             {"pending": 0, "running": 16, "shutting-down": 32,
                              "terminated": 48, "stopping": 64, "stopped": 80}[i["State"]["Name"]])
            self.assertTrue(i["Placement"]["AvailabilityZone"].startswith("us-east-1"))
            self.assertEqual(i["LaunchTime"].tzinfo is not None, True)
            self.assertIn(i["MetadataOptions"]["HttpTokens"], {"required", "optional"})
            self.assertIn(i["Architecture"], {"x86_64", "arm64"})
            self.assertEqual(i["RootDeviceType"], "ebs")
            if i["State"]["Name"] == "terminated":
                # Gone from the network, as AWS shows it.
                self.assertNotIn("VpcId", i)
                self.assertNotIn("PrivateIpAddress", i)
                self.assertEqual(i["SecurityGroups"], [])
                continue
            self.assertTrue(i["PrivateDnsName"].endswith(".ec2.internal"), i["PrivateDnsName"])
            self.assertEqual(i["PrivateDnsName"],
                             "ip-" + i["PrivateIpAddress"].replace(".", "-") + ".ec2.internal")
            if "PublicIpAddress" in i:
                self.assertEqual(i["PublicDnsName"],
                                 "ec2-" + i["PublicIpAddress"].replace(".", "-")
                                 + ".compute-1.amazonaws.com")
            self.assertTrue(i["VpcId"].startswith("vpc-"))
            self.assertTrue(i["SubnetId"].startswith("subnet-"))
            for g in i["SecurityGroups"]:
                self.assertTrue(g["GroupId"].startswith("sg-"))
                self.assertTrue(g["GroupName"])
            if i["State"]["Name"] == "stopped":
                self.assertEqual(i["StateReason"]["Code"], "Client.UserInitiatedShutdown")
            self.assertTrue(i["BlockDeviceMappings"], i["InstanceId"])
            self.assertTrue(i["BlockDeviceMappings"][0]["Ebs"]["VolumeId"].startswith("vol-"))
        self.assertEqual(len(ids), len(resp["Reservations"]))
        # Another account sees its own instances only.
        other = instances_of(self.ec2(self.profile_of(1)).describe_instances())
        self.assertFalse(ids & {i["InstanceId"] for i in other})

    def test_paging(self):
        ec2 = self.ec2()
        everything = [i["InstanceId"] for i in instances_of(ec2.describe_instances())]
        self.assertGreater(len(everything), 5, "the world should have more than one page")
        seen, token, pages = [], None, 0
        while True:
            kw = {"MaxResults": 5}
            if token:
                kw["NextToken"] = token
            resp = ec2.describe_instances(**kw)
            got = [i["InstanceId"] for i in instances_of(resp)]
            self.assertLessEqual(len(got), 5)
            seen += got
            pages += 1
            token = resp.get("NextToken")
            if not token:
                break
        self.assertEqual(seen, everything)
        self.assertEqual(pages, (len(everything) + 4) // 5)
        # boto3's paginator collects the same instances.
        pag = ec2.get_paginator("describe_instances")
        collected = [i["InstanceId"] for p in pag.paginate(PaginationConfig={"PageSize": 5})
                     for r in p["Reservations"] for i in r["Instances"]]
        self.assertEqual(collected, everything)
        # The CLI pages on its own with --page-size.
        rc, out, err = self.sb.aws("ec2", "describe-instances", "--page-size", "5")
        self.assertEqual(rc, 0, err)
        self.assertEqual([i["InstanceId"] for i in instances_of(out)], everything)
        rc, out, err = self.sb.aws("ec2", "describe-instances", "--page-size", "5",
                                   "--max-items", "5")
        self.assertEqual(rc, 0, err)
        self.assertEqual([i["InstanceId"] for i in instances_of(out)], everything[:5])
        rc, out, err = self.sb.aws("ec2", "describe-instances", "--page-size", "5",
                                   "--max-items", "5", "--starting-token", out["NextToken"])
        self.assertEqual(rc, 0, err)
        self.assertEqual([i["InstanceId"] for i in instances_of(out)], everything[5:10])
        # Bounds and bad tokens.
        self.assertClientError("InvalidParameterValue", ec2.describe_instances, MaxResults=3)
        self.assertClientError("InvalidParameterValue", ec2.describe_instances, MaxResults=5,
                               NextToken="not-a-token")
        self.assertClientError("InvalidParameterCombination", ec2.describe_instances,
                               MaxResults=5, InstanceIds=[everything[0]])
        # A token is bound to its filters.
        tok = ec2.describe_instances(MaxResults=5)["NextToken"]
        self.assertClientError("InvalidParameterValue", ec2.describe_instances, MaxResults=5,
                               NextToken=tok,
                               Filters=[{"Name": "instance-state-name", "Values": ["running"]}])

    def test_filters(self):
        ec2 = self.ec2()
        every = instances_of(ec2.describe_instances())

        def ids(filters):
            return sorted(i["InstanceId"] for i in self.all_instances(ec2, Filters=filters))

        def expect(pred):
            return sorted(i["InstanceId"] for i in every if pred(i))

        self.assertEqual(ids([{"Name": "instance-state-name", "Values": ["running"]}]),
                         expect(lambda i: i["State"]["Name"] == "running"))
        self.assertEqual(ids([{"Name": "instance-state-name", "Values": ["running", "stopped"]}]),
                         expect(lambda i: i["State"]["Name"] in ("running", "stopped")))
        self.assertEqual(ids([{"Name": "instance-state-code", "Values": ["80"]}]),
                         expect(lambda i: i["State"]["Code"] == 80))
        env = tag_value(next(i["Tags"] for i in every if tag_value(i.get("Tags"), "env")), "env")
        self.assertEqual(ids([{"Name": "tag:env", "Values": [env]}]),
                         expect(lambda i: tag_value(i.get("Tags"), "env") == env))
        self.assertEqual(ids([{"Name": "tag:env", "Values": [env]},
                              {"Name": "instance-state-name", "Values": ["running"]}]),
                         expect(lambda i: tag_value(i.get("Tags"), "env") == env
                                and i["State"]["Name"] == "running"))
        self.assertEqual(ids([{"Name": "tag:Name", "Values": ["*-web-*", "*-?astion-*"]}]),
                         expect(lambda i: "-web-" in (tag_value(i.get("Tags"), "Name") or "")
                                or "-bastion-" in (tag_value(i.get("Tags"), "Name") or "")))
        self.assertEqual(ids([{"Name": "tag-key", "Values": ["owner"]}]),
                         expect(lambda i: tag_value(i.get("Tags"), "owner") is not None))
        itype = every[0]["InstanceType"]
        self.assertEqual(ids([{"Name": "instance-type", "Values": [itype]}]),
                         expect(lambda i: i["InstanceType"] == itype))
        az = every[0]["Placement"]["AvailabilityZone"]
        self.assertEqual(ids([{"Name": "availability-zone", "Values": [az]}]),
                         expect(lambda i: i["Placement"]["AvailabilityZone"] == az))
        vpc = next(i["VpcId"] for i in every if "VpcId" in i)
        self.assertEqual(ids([{"Name": "vpc-id", "Values": [vpc]}]),
                         expect(lambda i: i.get("VpcId") == vpc))
        self.assertEqual(ids([{"Name": "instance-id", "Values": [every[1]["InstanceId"]]}]),
                         [every[1]["InstanceId"]])
        self.assertEqual(ids([{"Name": "tag:env", "Values": ["no-such-env"]}]), [])
        self.assertClientError("InvalidParameterValue", ec2.describe_instances,
                               Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
        # The brief's CLI form.
        rc, out, err = self.sb.aws("ec2", "describe-instances", "--filters",
                                   f"Name=tag:env,Values={env}")
        self.assertEqual(rc, 0, err)
        self.assertEqual(sorted(i["InstanceId"] for i in instances_of(out)),
                         expect(lambda i: tag_value(i.get("Tags"), "env") == env))
        rc, out, err = self.sb.aws("ec2", "describe-instances", "--filters",
                                   "Name=instance-state-name,Values=stopped", "--query",
                                   "Reservations[].Instances[].State.Name")
        self.assertEqual(rc, 0, err)
        self.assertTrue(out)
        self.assertEqual(set(out), {"stopped"})

    def test_instance_ids(self):
        ec2 = self.ec2()
        every = instances_of(ec2.describe_instances())
        want = [every[0]["InstanceId"], every[2]["InstanceId"]]
        got = instances_of(ec2.describe_instances(InstanceIds=want))
        self.assertEqual(sorted(i["InstanceId"] for i in got), sorted(want))
        missing = "i-0123456789abcdef0"
        err = self.assertClientError("InvalidInstanceID.NotFound", ec2.describe_instances,
                                     InstanceIds=[want[0], missing])
        self.assertEqual(err["Error"]["Message"], f"The instance ID '{missing}' does not exist")
        self.assertClientError("InvalidInstanceID.Malformed", ec2.describe_instances,
                               InstanceIds=["i-xyz"])
        # Instances of another account are not found.
        other = instances_of(self.ec2(self.profile_of(1)).describe_instances())[0]["InstanceId"]
        self.assertClientError("InvalidInstanceID.NotFound", ec2.describe_instances,
                               InstanceIds=[other])
        rc, out, err = self.sb.aws("ec2", "describe-instances", "--instance-ids", missing)
        self.assertCliError("InvalidInstanceID.NotFound", rc, err)

    # ---- state changes ----

    def test_stop_start_lifecycle(self):
        ec2 = self.ec2(self.profile_of(1))
        inst = self.pick(ec2, "running")
        iid = inst["InstanceId"]
        resp = ec2.stop_instances(InstanceIds=[iid])
        ch = resp["StoppingInstances"][0]
        self.assertEqual(ch["InstanceId"], iid)
        self.assertEqual(ch["PreviousState"], {"Code": 16, "Name": "running"})
        self.assertEqual(ch["CurrentState"], {"Code": 64, "Name": "stopping"})
        self.assertEqual(self.state_of(ec2, iid)["State"]["Name"], "stopping")
        # Stopping again answers the states as they are.
        again = ec2.stop_instances(InstanceIds=[iid])["StoppingInstances"][0]
        self.assertEqual(again["CurrentState"]["Name"], "stopping")
        self.assertEqual(again["PreviousState"]["Name"], "stopping")
        # A stopping instance cannot be started.
        err = self.assertClientError("IncorrectInstanceState", ec2.start_instances,
                                     InstanceIds=[iid])
        self.assertEqual(err["Error"]["Message"],
                         f"The instance '{iid}' is not in a state from which it can be started.")
        self.sb.advance_clock(DELAY + 1)
        stopped = self.state_of(ec2, iid)
        self.assertEqual(stopped["State"], {"Code": 80, "Name": "stopped"})
        self.assertEqual(stopped["StateReason"]["Code"], "Client.UserInitiatedShutdown")
        # Stop of a stopped instance succeeds with its states.
        rc, out, err = self.sb.aws("ec2", "stop-instances", "--instance-ids", iid,
                                   profile=self.profile_of(1))
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["StoppingInstances"][0]["CurrentState"]["Name"], "stopped")
        self.assertEqual(out["StoppingInstances"][0]["PreviousState"]["Name"], "stopped")
        # Start with the CLI: pending, then running after the delay.
        rc, out, err = self.sb.aws("ec2", "start-instances", "--instance-ids", iid,
                                   profile=self.profile_of(1))
        self.assertEqual(rc, 0, err)
        ch = out["StartingInstances"][0]
        self.assertEqual(ch["CurrentState"], {"Code": 0, "Name": "pending"})
        self.assertEqual(ch["PreviousState"], {"Code": 80, "Name": "stopped"})
        self.sb.advance_clock(DELAY + 1)
        self.assertEqual(self.state_of(ec2, iid)["State"]["Name"], "running")
        # The waiter sees it too.
        ec2.get_waiter("instance_running").wait(InstanceIds=[iid],
                                                WaiterConfig={"Delay": 1, "MaxAttempts": 3})

    def test_stop_with_force_and_cli_state(self):
        ec2 = self.ec2(self.profile_of(2))
        iid = self.pick(ec2, "running")["InstanceId"]
        rc, out, err = self.sb.aws("ec2", "stop-instances", "--instance-ids", iid, "--force",
                                   profile=self.profile_of(2))
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["StoppingInstances"][0]["CurrentState"]["Name"], "stopping")
        rc, out, err = self.sb.aws("ec2", "describe-instances", "--instance-ids", iid, "--query",
                                   "Reservations[0].Instances[0].State.Name",
                                   profile=self.profile_of(2))
        self.assertEqual((rc, out), (0, "stopping"), err)
        self.sb.advance_clock(DELAY + 1)
        rc, out, err = self.sb.aws("ec2", "describe-instances", "--instance-ids", iid, "--query",
                                   "Reservations[0].Instances[0].State.Name",
                                   profile=self.profile_of(2))
        self.assertEqual((rc, out), (0, "stopped"), err)

    def test_terminate_and_reboot(self):
        ec2 = self.ec2(self.profile_of(2), region="eu-west-1")
        running = self.pick(ec2, "running")["InstanceId"]
        ec2.reboot_instances(InstanceIds=[running])
        self.assertEqual(self.state_of(ec2, running)["State"]["Name"], "running")
        rc, out, err = self.sb.aws("ec2", "reboot-instances", "--instance-ids", running,
                                   profile=self.profile_of(2), region="eu-west-1")
        self.assertEqual(rc, 0, err)
        stopped = self.pick(ec2, "stopped")["InstanceId"]
        self.assertClientError("IncorrectInstanceState", ec2.reboot_instances,
                               InstanceIds=[stopped])
        ch = ec2.terminate_instances(InstanceIds=[stopped])["TerminatingInstances"][0]
        self.assertEqual(ch["PreviousState"]["Name"], "stopped")
        self.assertEqual(ch["CurrentState"], {"Code": 32, "Name": "shutting-down"})
        self.sb.advance_clock(DELAY + 1)
        self.assertEqual(self.state_of(ec2, stopped)["State"]["Name"], "terminated")
        err = self.assertClientError("IncorrectInstanceState", ec2.start_instances,
                                     InstanceIds=[stopped])
        self.assertIn("can be started", err["Error"]["Message"])
        self.assertClientError("IncorrectInstanceState", ec2.stop_instances,
                               InstanceIds=[stopped])
        # Terminating a terminated instance succeeds, as in AWS.
        rc, out, err = self.sb.aws("ec2", "terminate-instances", "--instance-ids", stopped,
                                   profile=self.profile_of(2), region="eu-west-1")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["TerminatingInstances"][0]["CurrentState"]["Name"], "terminated")

    def test_no_partial_changes(self):
        ec2 = self.ec2(self.profile_of(3))
        iid = self.pick(ec2, "running")["InstanceId"]
        missing = "i-00000000000000000"
        err = self.assertClientError("InvalidInstanceID.NotFound", ec2.stop_instances,
                                     InstanceIds=[iid, missing])
        self.assertIn(missing, err["Error"]["Message"])
        self.assertEqual(self.state_of(ec2, iid)["State"]["Name"], "running")
        self.assertClientError("InvalidInstanceID.Malformed", ec2.stop_instances,
                               InstanceIds=["i-bad"])
        stopped = self.pick(ec2, "stopped")["InstanceId"]
        terminated = [i["InstanceId"] for i in self.all_instances(ec2)
                      if i["State"]["Name"] == "terminated"]
        if terminated:
            self.assertClientError("IncorrectInstanceState", ec2.start_instances,
                                   InstanceIds=[stopped, terminated[0]])
            self.assertEqual(self.state_of(ec2, stopped)["State"]["Name"], "stopped")
        rc, out, err = self.sb.aws("ec2", "stop-instances", "--instance-ids", missing,
                                   profile=self.profile_of(3))
        self.assertCliError("InvalidInstanceID.NotFound", rc, err)

    def test_dry_run(self):
        ec2 = self.ec2(self.profile_of(3), region="eu-west-1")
        iid = self.pick(ec2, "running")["InstanceId"]
        err = self.assertClientError("DryRunOperation", ec2.stop_instances, InstanceIds=[iid],
                                     DryRun=True)
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 412)
        self.assertEqual(err["Error"]["Message"],
                         "Request would have succeeded, but DryRun flag is set.")
        self.assertEqual(self.state_of(ec2, iid)["State"]["Name"], "running")
        self.assertClientError("DryRunOperation", ec2.describe_instances, DryRun=True)
        self.assertClientError("DryRunOperation", ec2.describe_volumes, DryRun=True)
        rc, out, err = self.sb.aws("ec2", "start-instances", "--instance-ids", iid, "--dry-run",
                                   profile=self.profile_of(3), region="eu-west-1")
        self.assertCliError("DryRunOperation", rc, err)

    def test_session_policy_limits_to_describe(self):
        acct = self.accounts[1]
        sts = self.sb.client("sts", profile="hub")
        self.addCleanup(sts.close)
        policy = {"Version": "2012-10-17",
                  "Statement": [{"Effect": "Allow", "Action": "ec2:DescribeInstances",
                                 "Resource": "*"}]}
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::{acct}:role/EscherOperator",
                                RoleSessionName="escher-test-ec2",
                                ExternalId=harness.EXTERNAL_ID,
                                Policy=json.dumps(policy))["Credentials"]
        ec2 = self.sb.client_with_keys("ec2", creds["AccessKeyId"], creds["SecretAccessKey"],
                                       creds["SessionToken"])
        self.addCleanup(ec2.close)
        every = instances_of(ec2.describe_instances())
        self.assertTrue(every)
        running = [i["InstanceId"] for i in every if i["State"]["Name"] == "running"]
        self.assertClientError("UnauthorizedOperation", ec2.stop_instances,
                               InstanceIds=running[:1])
        self.assertClientError("UnauthorizedOperation", ec2.stop_instances,
                               InstanceIds=running[:1], DryRun=True)
        self.assertClientError("UnauthorizedOperation", ec2.describe_volumes)
        self.assertEqual(self.state_of(self.ec2(self.profile_of(1)), running[0])["State"]["Name"],
                         "running")

    # ---- ModifyInstanceAttribute ----

    def test_modify_instance_type(self):
        ec2 = self.ec2(self.profile_of(1), region="eu-west-1")
        running = self.pick(ec2, "running")["InstanceId"]
        err = self.assertClientError("IncorrectInstanceState", ec2.modify_instance_attribute,
                                     InstanceId=running, InstanceType={"Value": "t3.large"})
        self.assertEqual(err["Error"]["Message"],
                         f"The instance '{running}' is not in the 'stopped' state.")
        stopped = self.pick(ec2, "stopped")["InstanceId"]
        ec2.modify_instance_attribute(InstanceId=stopped, InstanceType={"Value": "t3.large"})
        self.assertEqual(self.state_of(ec2, stopped)["InstanceType"], "t3.large")
        rc, out, err = self.sb.aws("ec2", "modify-instance-attribute", "--instance-id", stopped,
                                   "--instance-type", "Value=m5.xlarge",
                                   profile=self.profile_of(1), region="eu-west-1")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.state_of(ec2, stopped)["InstanceType"], "m5.xlarge")
        ec2.modify_instance_attribute(InstanceId=stopped, Attribute="instanceType",
                                      Value="c6g.large")
        got = self.state_of(ec2, stopped)
        self.assertEqual(got["InstanceType"], "c6g.large")
        self.assertEqual(got["Architecture"], "arm64")
        self.assertClientError("InvalidInstanceID.NotFound", ec2.modify_instance_attribute,
                               InstanceId="i-0000000000000000f",
                               InstanceType={"Value": "t3.large"})

    # ---- tags ----

    def test_tags_round_trip(self):
        ec2 = self.ec2(self.profile_of(2))
        inst = instances_of(ec2.describe_instances())[0]["InstanceId"]
        vol = ec2.describe_volumes()["Volumes"][0]["VolumeId"]
        snap = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"][0]["SnapshotId"]
        sg = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
        ec2.create_tags(Resources=[inst, vol, snap, sg],
                        Tags=[{"Key": "cost-center", "Value": "cc-42"},
                              {"Key": "escher-test", "Value": "a&b<c>"}])
        self.assertEqual(tag_value(self.state_of(ec2, inst)["Tags"], "escher-test"), "a&b<c>")
        vtags = ec2.describe_volumes(VolumeIds=[vol])["Volumes"][0]["Tags"]
        self.assertEqual(tag_value(vtags, "cost-center"), "cc-42")
        stags = ec2.describe_snapshots(SnapshotIds=[snap])["Snapshots"][0]["Tags"]
        self.assertEqual(tag_value(stags, "cost-center"), "cc-42")
        gtags = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]["Tags"]
        self.assertEqual(tag_value(gtags, "cost-center"), "cc-42")
        found = instances_of(ec2.describe_instances(
            Filters=[{"Name": "tag:cost-center", "Values": ["cc-*"]}]))
        self.assertEqual([i["InstanceId"] for i in found], [inst])
        # Overwrite, delete with a wrong value (kept), with the right one, without a value.
        ec2.create_tags(Resources=[inst], Tags=[{"Key": "cost-center", "Value": "cc-43"}])
        ec2.delete_tags(Resources=[inst], Tags=[{"Key": "cost-center", "Value": "cc-42"}])
        self.assertEqual(tag_value(self.state_of(ec2, inst)["Tags"], "cost-center"), "cc-43")
        ec2.delete_tags(Resources=[inst], Tags=[{"Key": "cost-center", "Value": "cc-43"}])
        self.assertIsNone(tag_value(self.state_of(ec2, inst).get("Tags"), "cost-center"))
        ec2.delete_tags(Resources=[inst, vol, snap, sg], Tags=[{"Key": "escher-test"}])
        self.assertIsNone(tag_value(self.state_of(ec2, inst).get("Tags"), "escher-test"))
        # The CLI.
        rc, out, err = self.sb.aws("ec2", "create-tags", "--resources", vol, "--tags",
                                   "Key=env,Value=cli-test", profile=self.profile_of(2))
        self.assertEqual(rc, 0, err)
        rc, out, err = self.sb.aws("ec2", "describe-volumes", "--filters",
                                   "Name=tag:env,Values=cli-test", profile=self.profile_of(2))
        self.assertEqual(rc, 0, err)
        self.assertEqual([v["VolumeId"] for v in out["Volumes"]], [vol])
        rc, out, err = self.sb.aws("ec2", "delete-tags", "--resources", vol, "--tags", "Key=env",
                                   profile=self.profile_of(2))
        self.assertEqual(rc, 0, err)
        self.assertEqual(ec2.describe_volumes(
            Filters=[{"Name": "tag:env", "Values": ["cli-test"]}])["Volumes"], [])
        # Errors.
        self.assertClientError("InvalidInstanceID.NotFound", ec2.create_tags,
                               Resources=["i-0123456789abcdef0"], Tags=[{"Key": "a", "Value": "b"}])
        self.assertClientError("InvalidID", ec2.create_tags, Resources=["bogus-1"],
                               Tags=[{"Key": "a", "Value": "b"}])
        self.assertClientError("InvalidParameterValue", ec2.create_tags, Resources=[inst],
                               Tags=[{"Key": "aws:reserved", "Value": "b"}])

    # ---- volumes ----

    def test_volumes(self):
        ec2 = self.ec2()
        vols = []
        for page in ec2.get_paginator("describe_volumes").paginate(
                PaginationConfig={"PageSize": 5}):
            self.assertLessEqual(len(page["Volumes"]), 5)
            vols += page["Volumes"]
        self.assertEqual([v["VolumeId"] for v in vols],
                         [v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]])
        for v in vols:
            self.assertRegex(v["VolumeId"], r"^vol-[0-9a-f]{17}$")
            self.assertEqual(v["State"], "in-use" if v["Attachments"] else "available")
            self.assertIsInstance(v["Encrypted"], bool)
            self.assertIsInstance(v["Size"], int)
        in_use = [v for v in vols if v["State"] == "in-use"]
        avail = [v for v in vols if v["State"] == "available"]
        self.assertTrue(in_use and avail)
        got = ec2.describe_volumes(Filters=[{"Name": "status", "Values": ["available"]}])
        self.assertEqual([v["VolumeId"] for v in got["Volumes"]], [v["VolumeId"] for v in avail])
        att = in_use[0]["Attachments"][0]
        got = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id",
                                             "Values": [att["InstanceId"]]}])["Volumes"]
        self.assertIn(in_use[0]["VolumeId"], [v["VolumeId"] for v in got])
        self.assertTrue(all(v["Attachments"][0]["InstanceId"] == att["InstanceId"] for v in got))
        got = ec2.describe_volumes(Filters=[{"Name": "encrypted", "Values": ["false"]}])["Volumes"]
        self.assertEqual(sorted(v["VolumeId"] for v in got),
                         sorted(v["VolumeId"] for v in vols if not v["Encrypted"]))
        one = ec2.describe_volumes(VolumeIds=[avail[0]["VolumeId"]])["Volumes"]
        self.assertEqual([v["VolumeId"] for v in one], [avail[0]["VolumeId"]])
        rc, out, err = self.sb.aws("ec2", "describe-volumes", "--filters",
                                   "Name=status,Values=in-use")
        self.assertEqual(rc, 0, err)
        self.assertEqual(sorted(v["VolumeId"] for v in out["Volumes"]),
                         sorted(v["VolumeId"] for v in in_use))
        # Deleting: in use refused, available goes, then it is not found.
        err = self.assertClientError("VolumeInUse", ec2.delete_volume,
                                     VolumeId=in_use[0]["VolumeId"])
        self.assertIn(att["InstanceId"], err["Error"]["Message"])
        ec2.delete_volume(VolumeId=avail[0]["VolumeId"])
        err = self.assertClientError("InvalidVolume.NotFound", ec2.describe_volumes,
                                     VolumeIds=[avail[0]["VolumeId"]])
        self.assertEqual(err["Error"]["Message"],
                         f"The volume '{avail[0]['VolumeId']}' does not exist.")
        self.assertClientError("InvalidVolume.NotFound", ec2.delete_volume,
                               VolumeId=avail[0]["VolumeId"])
        if len(avail) > 1:
            rc, out, err = self.sb.aws("ec2", "delete-volume", "--volume-id",
                                       avail[1]["VolumeId"])
            self.assertEqual(rc, 0, err)
            rc, out, err = self.sb.aws("ec2", "delete-volume", "--volume-id",
                                       avail[1]["VolumeId"])
            self.assertCliError("InvalidVolume.NotFound", rc, err)

    # ---- snapshots ----

    def test_snapshot_lifecycle(self):
        ec2 = self.ec2(self.profile_of(1))
        vol = ec2.describe_volumes()["Volumes"][0]
        snap = ec2.create_snapshot(
            VolumeId=vol["VolumeId"], Description="escher test",
            TagSpecifications=[{"ResourceType": "snapshot",
                                "Tags": [{"Key": "purpose", "Value": "test"}]}])
        sid = snap["SnapshotId"]
        self.assertRegex(sid, r"^snap-[0-9a-f]{17}$")
        self.assertEqual(snap["State"], "pending")
        self.assertEqual(snap["VolumeId"], vol["VolumeId"])
        self.assertEqual(snap["VolumeSize"], vol["Size"])
        self.assertEqual(snap["OwnerId"], self.accounts[1])
        self.assertEqual(snap["Description"], "escher test")
        self.assertEqual(tag_value(snap["Tags"], "purpose"), "test")
        got = ec2.describe_snapshots(SnapshotIds=[sid])["Snapshots"][0]
        self.assertEqual(got["State"], "pending")
        self.sb.advance_clock(DELAY + 1)
        got = ec2.describe_snapshots(SnapshotIds=[sid])["Snapshots"][0]
        self.assertEqual((got["State"], got["Progress"]), ("completed", "100%"))
        ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[sid],
                                                  WaiterConfig={"Delay": 1, "MaxAttempts": 2})
        mine = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
        self.assertIn(sid, [s["SnapshotId"] for s in mine])
        self.assertTrue(all(s["OwnerId"] == self.accounts[1] for s in mine))
        attr = ec2.describe_snapshot_attribute(SnapshotId=sid, Attribute="createVolumePermission")
        self.assertEqual(attr["SnapshotId"], sid)
        self.assertEqual(attr["CreateVolumePermissions"], [])
        filt = ec2.describe_snapshots(OwnerIds=["self"],
                                      Filters=[{"Name": "tag:purpose", "Values": ["test"]}])
        self.assertEqual([s["SnapshotId"] for s in filt["Snapshots"]], [sid])
        ec2.delete_snapshot(SnapshotId=sid)
        err = self.assertClientError("InvalidSnapshot.NotFound", ec2.describe_snapshots,
                                     SnapshotIds=[sid])
        self.assertEqual(err["Error"]["Message"], f"The snapshot '{sid}' does not exist.")
        self.assertClientError("InvalidSnapshot.NotFound", ec2.delete_snapshot, SnapshotId=sid)
        self.assertClientError("InvalidVolume.NotFound", ec2.create_snapshot,
                               VolumeId="vol-0123456789abcdef0")
        # The CLI.
        rc, out, err = self.sb.aws("ec2", "create-snapshot", "--volume-id", vol["VolumeId"],
                                   "--description", "cli", profile=self.profile_of(1))
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["State"], "pending")
        cli_sid = out["SnapshotId"]
        rc, out, err = self.sb.aws("ec2", "describe-snapshots", "--snapshot-ids", cli_sid,
                                   profile=self.profile_of(1))
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["Snapshots"][0]["Description"], "cli")
        rc, out, err = self.sb.aws("ec2", "describe-snapshot-attribute", "--snapshot-id",
                                   cli_sid, "--attribute", "createVolumePermission",
                                   profile=self.profile_of(1))
        self.assertEqual(rc, 0, err)
        self.assertEqual((out["SnapshotId"], out["CreateVolumePermissions"]), (cli_sid, []))
        rc, out, err = self.sb.aws("ec2", "delete-snapshot", "--snapshot-id", cli_sid,
                                   profile=self.profile_of(1))
        self.assertEqual(rc, 0, err)

    def test_public_snapshots(self):
        # Find an account with a public snapshot.
        owner, public = None, None
        for i in range(len(self.accounts)):
            for region in harness.REGIONS:
                ec2 = self.ec2(self.profile_of(i), region=region)
                snaps = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
                for s in snaps:
                    a = ec2.describe_snapshot_attribute(SnapshotId=s["SnapshotId"],
                                                        Attribute="createVolumePermission")
                    if a["CreateVolumePermissions"]:
                        owner, public = (i, region), s
                        self.assertEqual(a["CreateVolumePermissions"], [{"Group": "all"}])
                        break
                if public:
                    break
            if public:
                break
        if not public:
            self.skipTest("no public snapshot in this world")
        other = 0 if owner[0] != 0 else 1
        ec2 = self.ec2(self.profile_of(other), region=owner[1])
        # Without Owner a caller sees public snapshots of other accounts.
        seen = {s["SnapshotId"]: s for p in ec2.get_paginator("describe_snapshots").paginate()
                for s in p["Snapshots"]}
        self.assertIn(public["SnapshotId"], seen)
        self.assertEqual(seen[public["SnapshotId"]]["OwnerId"], self.accounts[owner[0]])
        mine = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
        self.assertNotIn(public["SnapshotId"], [s["SnapshotId"] for s in mine])
        everyone = ec2.describe_snapshots(RestorableByUserIds=["all"])["Snapshots"]
        self.assertIn(public["SnapshotId"], [s["SnapshotId"] for s in everyone])
        theirs = ec2.describe_snapshots(OwnerIds=[self.accounts[owner[0]]])["Snapshots"]
        self.assertEqual([s["SnapshotId"] for s in theirs if s["SnapshotId"] ==
                          public["SnapshotId"]], [public["SnapshotId"]])
        # Not theirs to delete.
        self.assertClientError("InvalidSnapshot.NotFound", ec2.delete_snapshot,
                               SnapshotId=public["SnapshotId"])
        rc, out, err = self.sb.aws("ec2", "describe-snapshot-attribute", "--snapshot-id",
                                   public["SnapshotId"], "--attribute", "createVolumePermission",
                                   profile=self.profile_of(owner[0]), region=owner[1])
        self.assertEqual(rc, 0, err)
        self.assertEqual(out["CreateVolumePermissions"], [{"Group": "all"}])

    def test_snapshot_paging(self):
        ec2 = self.ec2()
        every = [s["SnapshotId"] for s in ec2.describe_snapshots()["Snapshots"]]
        paged = [s["SnapshotId"] for p in ec2.get_paginator("describe_snapshots").paginate(
            PaginationConfig={"PageSize": 5}) for s in p["Snapshots"]]
        self.assertEqual(paged, every)
        rc, out, err = self.sb.aws("ec2", "describe-snapshots", "--owner-ids", "self",
                                   "--page-size", "5")
        self.assertEqual(rc, 0, err)
        self.assertEqual(sorted(s["SnapshotId"] for s in out["Snapshots"]),
                         sorted(s["SnapshotId"] for s in
                                ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]))

    def test_ebs_encryption_by_default(self):
        for region in harness.REGIONS:
            got = self.ec2(region=region).get_ebs_encryption_by_default()
            self.assertIsInstance(got["EbsEncryptionByDefault"], bool)
            rc, out, err = self.sb.aws("ec2", "get-ebs-encryption-by-default", region=region)
            self.assertEqual(rc, 0, err)
            self.assertEqual(out["EbsEncryptionByDefault"], got["EbsEncryptionByDefault"])

    # ---- security groups and addresses ----

    def test_security_groups(self):
        ec2 = self.ec2()
        groups = ec2.describe_security_groups()["SecurityGroups"]
        self.assertTrue(groups)
        for g in groups:
            self.assertRegex(g["GroupId"], r"^sg-[0-9a-f]{17}$")
            self.assertEqual(g["OwnerId"], self.accounts[0])
            self.assertTrue(g["VpcId"].startswith("vpc-"))
        names = [g["GroupName"] for g in groups]
        self.assertIn("default", names)

        def open_on(g, port):
            return any(p.get("FromPort") == port and
                       any(r["CidrIp"] == "0.0.0.0/0" for r in p["IpRanges"])
                       for p in g["IpPermissions"])

        got = ec2.describe_security_groups(Filters=[
            {"Name": "ip-permission.cidr", "Values": ["0.0.0.0/0"]},
            {"Name": "ip-permission.from-port", "Values": ["22", "3389"]}])["SecurityGroups"]
        for g in got:
            self.assertTrue(any(r["CidrIp"] == "0.0.0.0/0" for p in g["IpPermissions"]
                                for r in p["IpRanges"]))
            self.assertTrue(any(p.get("FromPort") in (22, 3389) for p in g["IpPermissions"]))
        self.assertTrue({g["GroupId"] for g in groups if open_on(g, 22) or open_on(g, 3389)}
                        <= {g["GroupId"] for g in got})
        one = ec2.describe_security_groups(GroupIds=[groups[0]["GroupId"]])["SecurityGroups"]
        self.assertEqual([g["GroupId"] for g in one], [groups[0]["GroupId"]])
        byname = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"]
        self.assertEqual([g["GroupName"] for g in byname], ["default"])
        self.assertClientError("InvalidGroup.NotFound", ec2.describe_security_groups,
                               GroupIds=["sg-0123456789abcdef0"])
        self.assertClientError("InvalidGroup.NotFound", ec2.describe_security_groups,
                               GroupNames=["no-such-group"])
        rc, out, err = self.sb.aws("ec2", "describe-security-groups", "--filters",
                                   "Name=group-name,Values=default")
        self.assertEqual(rc, 0, err)
        self.assertEqual([g["GroupName"] for g in out["SecurityGroups"]], ["default"])

    def test_addresses(self):
        found = None
        for i in range(len(self.accounts)):
            addrs = self.ec2(self.profile_of(i)).describe_addresses()["Addresses"]
            if addrs:
                found = (i, addrs)
                break
        if not found:
            self.skipTest("no Elastic IP in this world")
        ec2 = self.ec2(self.profile_of(found[0]))
        addrs = found[1]
        for a in addrs:
            self.assertEqual(a["Domain"], "vpc")
            self.assertTrue(a["AllocationId"].startswith("eipalloc-"))
            if "InstanceId" in a:
                self.assertTrue(a["AssociationId"].startswith("eipassoc-"))
        one = ec2.describe_addresses(AllocationIds=[addrs[0]["AllocationId"]])["Addresses"]
        self.assertEqual([a["PublicIp"] for a in one], [addrs[0]["PublicIp"]])
        byip = ec2.describe_addresses(PublicIps=[addrs[0]["PublicIp"]])["Addresses"]
        self.assertEqual([a["AllocationId"] for a in byip], [addrs[0]["AllocationId"]])
        vpc = ec2.describe_addresses(Filters=[{"Name": "domain", "Values": ["vpc"]}])["Addresses"]
        self.assertEqual(len(vpc), len(addrs))
        assoc = [a for a in addrs if "InstanceId" in a]
        if assoc:
            got = ec2.describe_addresses(Filters=[{"Name": "instance-id",
                                                   "Values": [assoc[0]["InstanceId"]]}])
            self.assertEqual([a["AllocationId"] for a in got["Addresses"]],
                             [assoc[0]["AllocationId"]])
        self.assertClientError("InvalidAllocationID.NotFound", ec2.describe_addresses,
                               AllocationIds=["eipalloc-0123456789abcdef0"])
        rc, out, err = self.sb.aws("ec2", "describe-addresses", profile=self.profile_of(found[0]))
        self.assertEqual(rc, 0, err)
        self.assertEqual([a["AllocationId"] for a in out["Addresses"]],
                         [a["AllocationId"] for a in addrs])


if __name__ == "__main__":
    harness.main()
