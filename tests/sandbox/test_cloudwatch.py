"""CloudWatch GetMetricData (query protocol) in escher-sandbox with boto3 and
the AWS CLI: CPUUtilization per instance with Average/Maximum/Minimum,
period alignment, ScanBy, several queries, MaxDatapoints/NextToken paging
and errors."""

import datetime

from harness import SandboxTestCase, main

UTC = datetime.timezone.utc


def cpu_query(qid, instance_id, period=300, stat="Average", label=None):
    q = {"Id": qid, "MetricStat": {
        "Metric": {"Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
                   "Dimensions": [{"Name": "InstanceId", "Value": instance_id}]},
        "Period": period, "Stat": stat}}
    if label:
        q["Label"] = label
    return q


class CloudWatchTest(SandboxTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        status, state = cls.sb.admin("GET", "/state")
        assert status == 200
        mgmt = next(a for a in state["accounts"] if a["is_management"])
        region = next(r for r in mgmt["regions"] if r["name"] == cls.sb.regions[0])
        cls.instances = [i["id"] for i in region["instances"]]
        assert len(cls.instances) >= 2, "the world needs two instances in the first region"
        cls.cw = cls.sb.client("cloudwatch", "mgmt")
        now = datetime.datetime.now(UTC).replace(second=0, microsecond=0)
        cls.end = now.replace(minute=0)  # an hour boundary
        cls.start = cls.end - datetime.timedelta(hours=6)

    def get(self, queries, **kw):
        kw.setdefault("StartTime", self.start)
        kw.setdefault("EndTime", self.end)
        return self.cw.get_metric_data(MetricDataQueries=queries, **kw)

    def test_hourly_average_descending(self):
        out = self.get([cpu_query("cpu", self.instances[0], period=3600)])
        res = out["MetricDataResults"]
        self.assertEqual(len(res), 1)
        r = res[0]
        self.assertEqual(r["Id"], "cpu")
        self.assertEqual(r["Label"], "CPUUtilization")
        self.assertEqual(r["StatusCode"], "Complete")
        want = [self.end - datetime.timedelta(hours=h) for h in range(1, 7)]
        self.assertEqual(r["Timestamps"], want)  # newest first by default
        self.assertEqual(len(r["Values"]), 6)
        for v in r["Values"]:
            self.assertTrue(0 <= v <= 100, v)
        self.assertNotIn("NextToken", out)

    def test_stats_order_and_ascending(self):
        qs = [cpu_query("avg", self.instances[0], 3600, "Average"),
              cpu_query("mx", self.instances[0], 3600, "Maximum"),
              cpu_query("mn", self.instances[0], 3600, "Minimum", label="min cpu")]
        out = self.get(qs, ScanBy="TimestampAscending")
        by = {r["Id"]: r for r in out["MetricDataResults"]}
        self.assertEqual(by["mn"]["Label"], "min cpu")
        self.assertEqual(by["avg"]["Timestamps"], sorted(by["avg"]["Timestamps"]))
        for lo, mean, hi in zip(by["mn"]["Values"], by["avg"]["Values"], by["mx"]["Values"]):
            self.assertLessEqual(lo, mean + 1e-9)
            self.assertLessEqual(mean, hi + 1e-9)
        # The 5-minute samples of one hour average to the hourly average.
        fine = self.get([cpu_query("f", self.instances[0], 300)], ScanBy="TimestampAscending",
                        StartTime=self.start, EndTime=self.start + datetime.timedelta(hours=1))
        vals = fine["MetricDataResults"][0]["Values"]
        self.assertEqual(len(vals), 12)
        self.assertAlmostEqual(sum(vals) / 12, by["avg"]["Values"][0], places=6)
        self.assertAlmostEqual(max(vals), by["mx"]["Values"][0], places=6)

    def test_deterministic_and_distinct(self):
        a = self.get([cpu_query("a", self.instances[0])])["MetricDataResults"][0]["Values"]
        b = self.get([cpu_query("a", self.instances[0])])["MetricDataResults"][0]["Values"]
        c = self.get([cpu_query("a", self.instances[1])])["MetricDataResults"][0]["Values"]
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)

    def test_unknown_instance_and_metric_are_empty(self):
        out = self.get([cpu_query("x", "i-00000000000000000"),
                        {"Id": "y", "MetricStat": {"Metric": {
                            "Namespace": "AWS/EC2", "MetricName": "NetworkIn",
                            "Dimensions": [{"Name": "InstanceId", "Value": self.instances[0]}]},
                            "Period": 300, "Stat": "Average"}}])
        for r in out["MetricDataResults"]:
            self.assertEqual(r["Timestamps"], [])
            self.assertEqual(r["Values"], [])
            self.assertEqual(r["StatusCode"], "Complete")

    def test_paging(self):
        qs = [cpu_query("a", self.instances[0]), cpu_query("b", self.instances[1])]
        full = self.get(qs)["MetricDataResults"]
        total = sum(len(r["Values"]) for r in full)
        self.assertEqual(total, 2 * 72)
        got = {"a": [], "b": []}
        token, pages = None, 0
        while True:
            kw = {"NextToken": token} if token else {}
            out = self.get(qs, MaxDatapoints=50, **kw)
            pages += 1
            for r in out["MetricDataResults"]:
                got[r["Id"]] += r["Values"]
                self.assertLessEqual(len(r["Values"]), 50)
            token = out.get("NextToken")
            if token:
                self.assertIn("PartialData", [r["StatusCode"] for r in out["MetricDataResults"]])
            else:
                break
        self.assertEqual(pages, 3)
        self.assertEqual(got["a"], full[0]["Values"])
        self.assertEqual(got["b"], full[1]["Values"])
        # The paginator walks the same pages.
        pag = self.cw.get_paginator("get_metric_data").paginate(
            MetricDataQueries=qs, StartTime=self.start, EndTime=self.end, MaxDatapoints=50)
        self.assertEqual(sum(len(r["Values"]) for p in pag for r in p["MetricDataResults"]),
                         total)
        self.assertClientError("InvalidNextToken", self.get, qs, NextToken="f" * 32)

    def test_errors(self):
        self.assertClientError("InvalidParameterValue", self.get,
                               [cpu_query("a", self.instances[0])], StartTime=self.end,
                               EndTime=self.start)
        self.assertClientError("ValidationError", self.get,
                               [cpu_query("a", self.instances[0], period=90)])
        self.assertClientError("ValidationError", self.get,
                               [cpu_query("a", self.instances[0], stat="Median")])
        self.assertClientError("ValidationError", self.get,
                               [cpu_query("Bad", self.instances[0])])
        self.assertClientError("ValidationError", self.get,
                               [cpu_query("a", self.instances[0]),
                                cpu_query("a", self.instances[1])])

    def test_cli(self):
        q = ('[{"Id":"cpu","MetricStat":{"Metric":{"Namespace":"AWS/EC2",'
             '"MetricName":"CPUUtilization","Dimensions":[{"Name":"InstanceId","Value":"%s"}]},'
             '"Period":3600,"Stat":"Maximum"}}]' % self.instances[0])
        rc, out, err = self.sb.aws("cloudwatch", "get-metric-data", "--metric-data-queries", q,
                                   "--start-time", self.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                   "--end-time", self.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                   profile="mgmt")
        self.assertEqual(rc, 0, err)
        r = out["MetricDataResults"][0]
        self.assertEqual(r["Id"], "cpu")
        self.assertEqual(len(r["Values"]), 6)
        boto = self.get([cpu_query("cpu", self.instances[0], 3600, "Maximum")])
        self.assertEqual(r["Values"], boto["MetricDataResults"][0]["Values"])
        rc, out, err = self.sb.aws("cloudwatch", "get-metric-data", "--metric-data-queries", q,
                                   "--start-time", self.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                   "--end-time", self.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                   profile="mgmt")
        self.assertCliError("InvalidParameterValue", rc, err)


if __name__ == "__main__":
    main()
