"""Cost Explorer (JSON 1.1, global) in escher-sandbox with boto3 and the AWS
CLI: GetCostAndUsage (DAILY/MONTHLY, GroupBy dimension and tag, filters,
NextPageToken paging, consolidated billing) and GetCostForecast.

Costs are the world's pure functions, so the tests check the sums agree
with each other every way they can be cut: groups against totals, months
against days, filters against groups, a member's view against the
management account's."""

import datetime

from harness import SandboxTestCase, main

DAY = datetime.timedelta(days=1)


def amount(metrics, name="UnblendedCost"):
    return float(metrics[name]["Amount"])


class CostExplorerTest(SandboxTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        status, cls.state = cls.sb.admin("GET", "/state")
        assert status == 200
        cls.mgmt = next(a for a in cls.state["accounts"] if a["is_management"])
        cls.members = [a for a in cls.state["accounts"] if not a["is_management"]]
        cls.today = datetime.datetime.utcnow().date()
        cls.ce = cls.sb.client("ce", "mgmt")

    def usage(self, ce=None, days=7, end=None, **kw):
        end = end or self.today
        kw.setdefault("Granularity", "DAILY")
        kw.setdefault("Metrics", ["UnblendedCost", "BlendedCost"])
        return (ce or self.ce).get_cost_and_usage(
            TimePeriod={"Start": str(end - days * DAY), "End": str(end)}, **kw)

    def totals(self, out, metric="UnblendedCost"):
        return [amount(r["Total"], metric) for r in out["ResultsByTime"]]

    def group_sums(self, out, metric="UnblendedCost"):
        return [sum(amount(g["Metrics"], metric) for g in r["Groups"])
                for r in out["ResultsByTime"]]

    # ---- shapes ----

    def test_daily_totals(self):
        out = self.usage(days=7)
        res = out["ResultsByTime"]
        self.assertEqual(len(res), 7)
        for i, r in enumerate(res):
            self.assertEqual(r["TimePeriod"]["Start"], str(self.today - (7 - i) * DAY))
            self.assertEqual(r["TimePeriod"]["End"], str(self.today - (6 - i) * DAY))
            self.assertEqual(r["Groups"], [])
            self.assertEqual(r["Total"]["UnblendedCost"]["Unit"], "USD")
            self.assertGreater(amount(r["Total"]), 0)
            self.assertGreater(amount(r["Total"], "BlendedCost"), 0)
            self.assertFalse(r["Estimated"])
        self.assertNotIn("NextPageToken", out)

    def test_monthly_equals_sum_of_days(self):
        start = self.today.replace(day=1) - 40 * DAY
        start = start.replace(day=1)
        end = self.today
        monthly = self.ce.get_cost_and_usage(TimePeriod={"Start": str(start), "End": str(end)},
                                             Granularity="MONTHLY", Metrics=["UnblendedCost"])
        daily = self.ce.get_cost_and_usage(TimePeriod={"Start": str(start), "End": str(end)},
                                           Granularity="DAILY", Metrics=["UnblendedCost"])
        periods = [r["TimePeriod"] for r in monthly["ResultsByTime"]]
        self.assertEqual(periods[0]["Start"], str(start))
        self.assertEqual(periods[-1]["End"], str(end))
        for p in periods:
            self.assertTrue(p["Start"] == str(start) or p["Start"].endswith("-01"), p)
        days = []
        token = None
        while True:
            kw = {"NextPageToken": token} if token else {}
            page = self.ce.get_cost_and_usage(TimePeriod={"Start": str(start), "End": str(end)},
                                              Granularity="DAILY", Metrics=["UnblendedCost"],
                                              **kw)
            days += page["ResultsByTime"]
            token = page.get("NextPageToken")
            if not token:
                break
        self.assertEqual(len(days), (end - start).days)
        self.assertAlmostEqual(sum(self.totals(monthly)),
                               sum(amount(d["Total"]) for d in days), places=4)
        self.assertTrue(daily["ResultsByTime"])

    def test_group_by_account_sums_to_total(self):
        total = self.usage(days=5)
        grouped = self.usage(days=5, GroupBy=[{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}])
        self.assertEqual(grouped["GroupDefinitions"],
                         [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}])
        for t, g in zip(self.totals(total), self.group_sums(grouped)):
            self.assertAlmostEqual(t, g, places=4)
        ids = {g["Keys"][0] for r in grouped["ResultsByTime"] for g in r["Groups"]}
        self.assertLessEqual(ids, {a["id"] for a in self.state["accounts"]})
        self.assertGreater(len(ids), 1)
        names = {a["id"]: a["name"] for a in self.state["accounts"]}
        attrs = grouped["DimensionValueAttributes"]
        self.assertEqual({x["Value"] for x in attrs}, ids)
        for x in attrs:
            self.assertEqual(x["Attributes"]["description"], names[x["Value"]])
        for r in grouped["ResultsByTime"]:
            self.assertEqual(r["Total"], {})

    def test_group_by_two_with_tag(self):
        total = self.usage(days=3)
        out = self.usage(days=3, GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"},
                                          {"Type": "TAG", "Key": "env"}])
        for t, g in zip(self.totals(total), self.group_sums(out)):
            self.assertAlmostEqual(t, g, places=4)
        keys = [g["Keys"] for r in out["ResultsByTime"] for g in r["Groups"]]
        self.assertTrue(all(len(k) == 2 for k in keys))
        self.assertTrue(all(k[1].startswith("env$") for k in keys))
        self.assertIn("Amazon Elastic Compute Cloud - Compute", {k[0] for k in keys})
        self.assertIn("env$", {k[1] for k in keys})  # untagged spend
        # Tag groups are stable: the same line keeps its tag every day.
        again = self.usage(days=3, GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"},
                                            {"Type": "TAG", "Key": "env"}])
        self.assertEqual(out["ResultsByTime"], again["ResultsByTime"])

    def test_group_by_region(self):
        out = self.usage(days=2, GroupBy=[{"Type": "DIMENSION", "Key": "REGION"}])
        regions = {g["Keys"][0] for r in out["ResultsByTime"] for g in r["Groups"]}
        self.assertEqual(regions, set(self.state["region_names"]))

    # ---- filters ----

    def test_filters(self):
        member = self.members[0]["id"]
        grouped = self.usage(days=4, GroupBy=[{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}])
        want = [sum(amount(g["Metrics"]) for g in r["Groups"] if g["Keys"][0] == member)
                for r in grouped["ResultsByTime"]]
        only = self.usage(days=4, Filter={"Dimensions": {"Key": "LINKED_ACCOUNT",
                                                         "Values": [member]}})
        for a, b in zip(self.totals(only), want):
            self.assertAlmostEqual(a, b, places=4)
        others = self.usage(days=4, Filter={"Not": {"Dimensions": {"Key": "LINKED_ACCOUNT",
                                                                   "Values": [member]}}})
        total = self.usage(days=4)
        for a, b, t in zip(self.totals(only), self.totals(others), self.totals(total)):
            self.assertAlmostEqual(a + b, t, places=4)
        # And: one account's EC2 compute in one region; Or of two services.
        region = self.state["region_names"][0]
        both = self.usage(days=4, Filter={"And": [
            {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": [member]}},
            {"Dimensions": {"Key": "REGION", "Values": [region]}}]})
        for a, b in zip(self.totals(both), self.totals(only)):
            self.assertLessEqual(a, b + 1e-6)
        svc = ["Amazon Relational Database Service", "Amazon Simple Storage Service"]
        either = self.usage(days=4, Filter={"Or": [
            {"Dimensions": {"Key": "SERVICE", "Values": [svc[0]]}},
            {"Dimensions": {"Key": "SERVICE", "Values": [svc[1]]}}]},
            GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"}])
        self.assertLessEqual({g["Keys"][0] for r in either["ResultsByTime"]
                              for g in r["Groups"]}, set(svc))
        # Tags: prod plus not-prod is everything.
        prod = self.usage(days=4, Filter={"Tags": {"Key": "env", "Values": ["prod"]}})
        notprod = self.usage(days=4, Filter={"Not": {"Tags": {"Key": "env",
                                                             "Values": ["prod"]}}})
        for a, b, t in zip(self.totals(prod), self.totals(notprod), self.totals(total)):
            self.assertAlmostEqual(a + b, t, places=4)
            self.assertGreater(a, 0)

    def test_filter_errors(self):
        self.assertClientError("ValidationException", self.usage,
                               Filter={"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": ["1"]},
                                       "Tags": {"Key": "env", "Values": ["prod"]}})
        self.assertClientError("ValidationException", self.usage,
                               Filter={"Dimensions": {"Key": "NOT_A_DIMENSION",
                                                      "Values": ["x"]}})

    # ---- consolidated billing ----

    def test_member_sees_only_itself(self):
        member = self.members[0]
        ce = self.sb.client("ce", "acct-" + member["id"])
        mine = self.usage(ce=ce, days=3, GroupBy=[{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}])
        ids = {g["Keys"][0] for r in mine["ResultsByTime"] for g in r["Groups"]}
        self.assertEqual(ids, {member["id"]})
        org = self.usage(days=3, Filter={"Dimensions": {"Key": "LINKED_ACCOUNT",
                                                        "Values": [member["id"]]}})
        for a, b in zip(self.group_sums(mine), self.totals(org)):
            self.assertAlmostEqual(a, b, places=4)
        # Another account's costs are invisible to a member.
        other = self.usage(ce=ce, days=3, Filter={"Dimensions": {"Key": "LINKED_ACCOUNT",
                                                                 "Values": [self.mgmt["id"]]}})
        self.assertEqual(self.totals(other), [0.0, 0.0, 0.0])

    def test_anomaly_shows_in_costs(self):
        an = self.state["anomalies"][0]
        day = datetime.date.fromisoformat(an["day"][:10])
        out = self.ce.get_cost_and_usage(
            TimePeriod={"Start": str(day - DAY), "End": str(day + 2 * DAY)},
            Granularity="DAILY", Metrics=["UnblendedCost"],
            Filter={"And": [{"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": [an["account_id"]]}},
                            {"Dimensions": {"Key": "SERVICE", "Values": [an["service"]]}},
                            {"Dimensions": {"Key": "REGION", "Values": [an["region"]]}}]})
        before, spike, after = self.totals(out)
        self.assertGreater(spike, before)
        self.assertGreater(spike, after)

    # ---- paging ----

    def test_next_page_token(self):
        gb = [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"},
              {"Type": "DIMENSION", "Key": "SERVICE"}]
        pages, periods, token = 0, [], None
        while True:
            kw = {"NextPageToken": token} if token else {}
            out = self.usage(days=90, GroupBy=gb, **kw)
            pages += 1
            periods += [r["TimePeriod"]["Start"] for r in out["ResultsByTime"]]
            token = out.get("NextPageToken")
            if not token:
                break
        self.assertGreater(pages, 1)
        self.assertEqual(periods, [str(self.today - (90 - i) * DAY) for i in range(90)])
        self.assertClientError("InvalidNextTokenException", self.usage, days=90, GroupBy=gb,
                               NextPageToken="0" * 32)
        # A token is bound to its query.
        first = self.usage(days=90, GroupBy=gb)
        self.assertClientError("InvalidNextTokenException", self.usage, days=80, GroupBy=gb,
                               NextPageToken=first["NextPageToken"])

    # ---- validation ----

    def test_validation(self):
        r = self.assertClientError("ValidationException", self.ce.get_cost_and_usage,
                                   TimePeriod={"Start": str(self.today), "End": str(self.today)},
                                   Granularity="DAILY", Metrics=["UnblendedCost"])
        self.assertEqual(r["Error"]["Message"],
                         "Start date (and hour) should be before end date (and hour)")
        self.assertClientError("ValidationException", self.ce.get_cost_and_usage,
                               TimePeriod={"Start": "2024-13-01", "End": "2025-01-01"},
                               Granularity="DAILY", Metrics=["UnblendedCost"])
        far = self.today + 70 * DAY
        r = self.assertClientError("ValidationException", self.ce.get_cost_and_usage,
                                   TimePeriod={"Start": str(self.today - DAY), "End": str(far)},
                                   Granularity="DAILY", Metrics=["UnblendedCost"])
        self.assertEqual(r["Error"]["Message"], "end date past the beginning of next month")
        self.assertClientError("ValidationException", self.usage, Metrics=["NoSuchMetric"])
        self.assertClientError("ValidationException", self.usage, GroupBy=[
            {"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "DIMENSION", "Key": "REGION"},
            {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}])
        r = self.assertClientError("ValidationException", self.usage,
                                   GroupBy=[{"Type": "LINKED_ACCOUNT", "Key": "x"}])
        self.assertEqual(r["Error"]["Message"], "Group Definition type is invalid.")

    # ---- forecast ----

    def test_forecast(self):
        end = self.today + 10 * DAY
        out = self.ce.get_cost_forecast(TimePeriod={"Start": str(self.today), "End": str(end)},
                                        Metric="UNBLENDED_COST", Granularity="DAILY")
        res = out["ForecastResultsByTime"]
        self.assertEqual(len(res), 10)
        self.assertEqual(out["Total"]["Unit"], "USD")
        means = [float(r["MeanValue"]) for r in res]
        self.assertAlmostEqual(float(out["Total"]["Amount"]), sum(means), places=3)
        for r in res:
            lo, mean, hi = (float(r["PredictionIntervalLowerBound"]), float(r["MeanValue"]),
                            float(r["PredictionIntervalUpperBound"]))
            self.assertLessEqual(lo, mean)
            self.assertLess(mean, hi)
        # The trend continues the last month's level.
        recent = self.usage(days=7, Metrics=["UnblendedCost"])
        level = sum(self.totals(recent)) / 7
        self.assertLess(abs(means[0] - level) / level, 0.5)
        # A wider interval at 95% than at 80%.
        wide = self.ce.get_cost_forecast(TimePeriod={"Start": str(self.today), "End": str(end)},
                                         Metric="UNBLENDED_COST", Granularity="DAILY",
                                         PredictionIntervalLevel=95)
        w0 = wide["ForecastResultsByTime"][0]
        self.assertGreater(float(w0["PredictionIntervalUpperBound"]),
                           float(res[0]["PredictionIntervalUpperBound"]))

    def test_forecast_monthly_and_errors(self):
        end = (self.today.replace(day=1) + 40 * DAY).replace(day=1)
        out = self.ce.get_cost_forecast(TimePeriod={"Start": str(self.today), "End": str(end)},
                                        Metric="BLENDED_COST", Granularity="MONTHLY")
        self.assertEqual(out["ForecastResultsByTime"][0]["TimePeriod"]["Start"], str(self.today))
        self.assertEqual(out["ForecastResultsByTime"][-1]["TimePeriod"]["End"], str(end))
        r = self.assertClientError("ValidationException", self.ce.get_cost_forecast,
                                   TimePeriod={"Start": str(end), "End": str(self.today)},
                                   Metric="UNBLENDED_COST", Granularity="DAILY")
        self.assertEqual(r["Error"]["Message"],
                         f"Requested Start: {end} must be before requested End: {self.today}")
        self.assertClientError("ValidationException", self.ce.get_cost_forecast,
                               TimePeriod={"Start": str(self.today - 5 * DAY),
                                           "End": str(self.today + DAY)},
                               Metric="UNBLENDED_COST", Granularity="DAILY")

    # ---- the AWS CLI ----

    def test_cli(self):
        start, end = self.today - 3 * DAY, self.today
        rc, out, err = self.sb.aws("ce", "get-cost-and-usage", "--time-period",
                                   f"Start={start},End={end}", "--granularity", "DAILY",
                                   "--metrics", "UnblendedCost", "BlendedCost", "--group-by",
                                   "Type=DIMENSION,Key=LINKED_ACCOUNT", profile="mgmt")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out["ResultsByTime"]), 3)
        boto = self.usage(days=3, GroupBy=[{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}])
        self.assertEqual(out["ResultsByTime"], boto["ResultsByTime"])
        rc, out, err = self.sb.aws("ce", "get-cost-forecast", "--time-period",
                                   f"Start={self.today},End={self.today + 5 * DAY}", "--metric",
                                   "UNBLENDED_COST", "--granularity", "DAILY", profile="mgmt")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out["ForecastResultsByTime"]), 5)
        rc, out, err = self.sb.aws("ce", "get-cost-and-usage", "--time-period",
                                   f"Start={end},End={start}", "--granularity", "DAILY",
                                   "--metrics", "UnblendedCost", profile="mgmt")
        self.assertCliError("ValidationException", rc, err)


if __name__ == "__main__":
    main()
