/* lib/ops executors beyond ec2.start/stop/reboot, without AWS: for each, the
 * listing request built from a selector, the answers read (listing and
 * re-check, with the client-side selector for RDS and Auto Scaling), the
 * decisions by state, and the mutating requests' exact bodies, DryRun
 * included where EC2 takes it. Wire shapes are botocore's models'. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aws/aws_client.h"
#include "aws/xml.h"
#include "core/xmalloc.h"
#include "ops/ops_catalog.h"
#include "ops/target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static json_t *js(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    if (j == NULL)
        fail_msg("bad test JSON %s: %s", text, je.text);
    return j;
}

static const ops_executor *exec_of(const char *op)
{
    const ops_op *o = ops_find(op);
    assert_non_null(o);
    assert_non_null(o->executor);
    return o->executor;
}

/* text: {"selector": {...}}, given all accounts and regions. */
static void selector(const char *text, target *t)
{
    json_t *j = js(text);
    json_object_set_new(j, "accounts", json_string("all"));
    json_object_set_new(j, "regions", json_string("all"));
    err e = {0};
    if (!target_parse(j, t, &e))
        fail_msg("target %s: %s", text, e.message);
    json_decref(j);
}

/* The body of x's mutating call for r in phase with params; NULL when the
 * phase has nothing to send. Caller frees. */
static char *action_body(const ops_executor *x, const ops_resource *r, const char *params,
                         unsigned phase, bool dry_run)
{
    json_t *p = js(params);
    ops_call c = {.params = p,
                  .region = "eu-west-1",
                  .job_id = "job-1",
                  .stamp = "20261124-045455",
                  .phase = phase,
                  .dry_run = dry_run};
    aws_request req;
    char *body = NULL;
    if (x->action_request(r, &c, &req)) {
        assert_string_equal(req.region, "eu-west-1");
        body = xstrdup(strbuf_str(&req.body));
        aws_request_free(&req);
    }
    json_decref(p);
    return body;
}

static void body_is(char *got, const char *want)
{
    assert_non_null(got);
    if (strcmp(got, want) != 0)
        fail_msg("body\n  %s\nwant\n  %s", got, want);
    free(got);
}

static char *list_body(const ops_executor *x, const char *target_json, const char *token)
{
    target t;
    selector(target_json, &t);
    aws_request req;
    x->list_request(&t.selector, "eu-west-1", token, &req);
    char *body = xstrdup(strbuf_str(&req.body));
    aws_request_free(&req);
    target_clear(&t);
    return body;
}

typedef struct parsed {
    ops_resource *v;
    size_t n, cap;
} parsed;

static parsed parse(const ops_executor *x, const char *answer, const char *target_json,
                    bool recheck)
{
    xml_doc *doc;
    err e = {0};
    assert_true(xml_parse(answer, strlen(answer), NULL, &doc, &e));
    parsed p = {0};
    target t = {0};
    if (target_json)
        selector(target_json, &t);
    bool ok = recheck && x->get_parse
                  ? x->get_parse(xml_root(doc), &p.v, &p.n, &p.cap, &e)
                  : x->list_parse(xml_root(doc), target_json ? &t.selector : NULL, &p.v, &p.n,
                                  &p.cap, &e);
    assert_true(ok);
    if (target_json)
        target_clear(&t);
    xml_free(doc);
    return p;
}

static void parsed_free(parsed *p)
{
    for (size_t i = 0; i < p->n; i++)
        ops_resource_clear(&p->v[i]);
    free(p->v);
}

static ops_decision decide(const ops_executor *x, const ops_resource *r, const char *params,
                           unsigned phase, const char **why)
{
    json_t *p = js(params);
    *why = NULL;
    ops_decision d = x->decide(r, p, phase, why);
    json_decref(p);
    return d;
}

/* ---- tags.apply ---- */

static void test_tags_apply(void **state)
{
    (void)state;
    const ops_executor *x = exec_of("tags.apply");
    assert_true(x->dry_run_native);
    assert_int_equal(x->nphases, 2);
    assert_string_equal(ops_phase_verb(x, 0), "tag");
    assert_string_equal(ops_phase_verb(x, 1), "untag");
    ops_resource r = {.id = "i-1", .name = "", .state = "stopped"};
    body_is(action_body(x, &r, "{\"tags\": {\"owner\": \"ops team\"}, \"remove\": [\"tmp\"]}", 0,
                        false),
            "Action=CreateTags&Version=2016-11-15&ResourceId.1=i-1&Tag.1.Key=owner&"
            "Tag.1.Value=ops%20team");
    body_is(action_body(x, &r, "{\"tags\": {\"owner\": \"ops\"}, \"remove\": [\"tmp\", \"old\"]}",
                        1, true),
            "Action=DeleteTags&Version=2016-11-15&ResourceId.1=i-1&Tag.1.Key=tmp&Tag.2.Key=old&"
            "DryRun=true");
    /* A phase with nothing to send is skipped. */
    assert_null(action_body(x, &r, "{\"remove\": [\"tmp\"]}", 0, false));
    assert_null(action_body(x, &r, "{\"tags\": {\"a\": \"b\"}}", 1, false));
    const char *why;
    assert_int_equal(decide(x, &r, "{}", 0, &why), OPS_ACT);
    r.state = "terminated";
    assert_int_equal(decide(x, &r, "{}", 0, &why), OPS_NOTHING);
    assert_string_equal(why, "terminated");
}

/* ---- ec2.resize ---- */

static void test_resize(void **state)
{
    (void)state;
    const ops_executor *x = exec_of("ec2.resize");
    assert_true(x->dry_run_native);
    assert_int_equal(x->nphases, 6);
    static const char *const verbs[] = {"check",  "stop",  "wait-stopped",
                                        "modify", "start", "wait-running"};
    static const bool calls[] = {false, true, false, true, true, false};
    for (unsigned p = 0; p < 6; p++) {
        assert_string_equal(ops_phase_verb(x, p), verbs[p]);
        assert_int_equal(ops_phase_calls(x, p), calls[p]);
    }
    assert_non_null(x->phase_text);
    assert_true(x->wait_ms > 0 && x->wait_max_ms >= 60000);

    /* The listing and the re-check read the instance type. */
    parsed p = parse(x,
                     "<DescribeInstancesResponse><reservationSet><item><instancesSet><item>"
                     "<instanceId>i-1</instanceId><instanceType>t3.micro</instanceType>"
                     "<instanceState><code>16</code><name>running</name></instanceState>"
                     "</item></instancesSet></item></reservationSet></DescribeInstancesResponse>",
                     "{\"selector\": {\"tags\": {\"env\": [\"dev\"]}}}", true);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.v[0].type, "t3.micro");
    assert_string_equal(p.v[0].state, "running");
    parsed_free(&p);

    /* Request bodies: botocore's shapes, DryRun on the stop and the modify. */
    ops_resource r = {.id = "i-1", .name = "", .state = "running", .type = "t3.micro"};
    const char *params = "{\"instance_type\": \"m5.large\"}";
    body_is(action_body(x, &r, params, 1, false),
            "Action=StopInstances&Version=2016-11-15&InstanceId.1=i-1");
    body_is(action_body(x, &r, params, 1, true),
            "Action=StopInstances&Version=2016-11-15&InstanceId.1=i-1&DryRun=true");
    body_is(action_body(x, &r, params, 3, false),
            "Action=ModifyInstanceAttribute&Version=2016-11-15&InstanceId=i-1&"
            "InstanceType.Value=m5.large");
    body_is(action_body(x, &r, params, 3, true),
            "Action=ModifyInstanceAttribute&Version=2016-11-15&InstanceId=i-1&"
            "InstanceType.Value=m5.large&DryRun=true");
    body_is(action_body(x, &r, params, 4, false),
            "Action=StartInstances&Version=2016-11-15&InstanceId.1=i-1");
    /* The no-call phases build nothing. */
    assert_null(action_body(x, &r, params, 0, false));
    assert_null(action_body(x, &r, params, 2, false));
    assert_null(action_body(x, &r, params, 5, false));

    /* The words of the result. */
    char buf[128];
    json_t *pj = js(params);
    ops_call c = {.params = pj, .region = "eu-west-1", .phase = 3, .dry_run = true};
    x->phase_text(&r, &c, buf, sizeof buf);
    assert_string_equal(buf, "would resize from t3.micro to m5.large");
    c.dry_run = false;
    x->phase_text(&r, &c, buf, sizeof buf);
    assert_string_equal(buf, "resize from t3.micro to m5.large");
    c.phase = 1;
    c.dry_run = true;
    x->phase_text(&r, &c, buf, sizeof buf);
    assert_string_equal(buf, "would stop");
    json_decref(pj);

    /* Decisions by state and phase. */
    const char *why;
    struct {
        const char *state, *type, *before, *params;
        unsigned phase;
        ops_decision want;
        const char *why;
    } cases[] = {
        /* 0 check: the before state is recorded; terminated or already of
         * the type ends the resource. */
        {"running", "t3.micro", NULL, params, 0, OPS_ACT, NULL},
        {"stopped", "t3.micro", NULL, params, 0, OPS_ACT, NULL},
        {"running", "m5.large", NULL, params, 0, OPS_NOTHING, "already of that type"},
        {"terminated", "t3.micro", NULL, params, 0, OPS_NOTHING, "terminated"},
        {"running", NULL, NULL, params, 0, OPS_CANNOT, "DescribeInstances gave no instance type"},
        /* 1 stop */
        {"running", "t3.micro", "running", params, 1, OPS_ACT, NULL},
        {"stopped", "t3.micro", "stopped", params, 1, OPS_PASS, "already stopped"},
        {"stopping", "t3.micro", "running", params, 1, OPS_PASS, "already stopped"},
        {"pending", "t3.micro", "pending", params, 1, OPS_WAIT, "still pending"},
        {"terminated", "t3.micro", "running", params, 1, OPS_CANNOT, "terminated"},
        /* 2 wait for stopped */
        {"stopping", "t3.micro", "running", params, 2, OPS_WAIT, "still stopping"},
        {"stopped", "t3.micro", "running", params, 2, OPS_ACT, NULL},
        {"running", "t3.micro", "running", params, 2, OPS_CANNOT,
         "started again while Escher waited for it to stop"},
        /* 3 modify */
        {"stopped", "t3.micro", "running", params, 3, OPS_ACT, NULL},
        {"stopped", "m5.large", "running", params, 3, OPS_PASS, "already of that type"},
        /* 4 start: only what ran before the job, unless start_after is false */
        {"stopped", "m5.large", "running", params, 4, OPS_ACT, NULL},
        {"stopped", "m5.large", "pending", params, 4, OPS_ACT, NULL},
        {"stopped", "m5.large", "stopped", params, 4, OPS_PASS,
         "was not running before the job: left stopped"},
        {"stopped", "m5.large", "running",
         "{\"instance_type\": \"m5.large\", \"start_after\": false}", 4, OPS_PASS,
         "start_after is false: left stopped"},
        {"running", "m5.large", "running", params, 4, OPS_PASS, "already running"},
        {"stopping", "m5.large", "running", params, 4, OPS_WAIT, "still stopping"},
        /* A dry run's plan: still running with the old type. */
        {"running", "t3.micro", "running", params, 4, OPS_ACT, NULL},
        /* 5 wait for running */
        {"pending", "m5.large", "running", params, 5, OPS_WAIT, "still pending"},
        {"running", "m5.large", "running", params, 5, OPS_ACT, NULL},
        {"stopped", "m5.large", "stopped", params, 5, OPS_PASS, "not started by this job"},
        {"stopped", "m5.large", "running", params, 5, OPS_CANNOT,
         "stopped again while Escher waited for it to run"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ops_resource q = {.id = "i-1",
                          .name = "",
                          .state = (char *)cases[i].state,
                          .type = (char *)cases[i].type,
                          .before = (char *)cases[i].before};
        ops_decision d = decide(x, &q, cases[i].params, cases[i].phase, &why);
        if (d != cases[i].want)
            fail_msg("case %zu (%s, phase %u): decision %d, want %d (%s)", i, cases[i].state,
                     cases[i].phase, (int)d, (int)cases[i].want, why ? why : "");
        if (cases[i].why)
            assert_string_equal(why, cases[i].why);
    }
}

/* ---- ec2.snapshot_volumes ---- */

static void test_snapshot_volumes(void **state)
{
    (void)state;
    const ops_executor *x = exec_of("ec2.snapshot_volumes");
    char *body = list_body(x, "{\"selector\": {\"tags\": {\"env\": [\"dev\"]}}}", NULL);
    assert_string_equal(body, "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3Aenv&"
                              "Filter.1.Value.1=dev&MaxResults=1000");
    free(body);
    /* One resource per EBS volume of each instance. */
    static const char listing[] =
        "<DescribeInstancesResponse><reservationSet><item><instancesSet>"
        "<item><instanceId>i-a</instanceId><instanceState><name>running</name></instanceState>"
        "<blockDeviceMapping><item><deviceName>/dev/xvda</deviceName><ebs><volumeId>vol-1"
        "</volumeId></ebs></item><item><deviceName>/dev/xvdb</deviceName><ebs><volumeId>vol-2"
        "</volumeId></ebs></item></blockDeviceMapping>"
        "<tagSet><item><key>Name</key><value>web</value></item></tagSet></item>"
        "<item><instanceId>i-b</instanceId><instanceState><name>stopped</name></instanceState>"
        "<blockDeviceMapping/></item></instancesSet></item></reservationSet>"
        "</DescribeInstancesResponse>";
    parsed p = parse(x, listing, NULL, false);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.v[0].id, "vol-1");
    assert_string_equal(p.v[0].parent, "i-a");
    assert_string_equal(p.v[0].name, "web");
    assert_string_equal(p.v[1].id, "vol-2");
    /* The re-check reads the volume. */
    aws_request req;
    x->get_request("eu-west-1", &p.v[0], &req);
    assert_string_equal(strbuf_str(&req.body),
                        "Action=DescribeVolumes&Version=2016-11-15&VolumeId.1=vol-1");
    aws_request_free(&req);
    parsed_free(&p);
    static const char volume[] =
        "<DescribeVolumesResponse><volumeSet><item><volumeId>vol-1</volumeId><status>in-use"
        "</status><createTime>2020-01-02T03:04:05.000Z</createTime><attachmentSet><item>"
        "<instanceId>i-a</instanceId></item></attachmentSet><tagSet><item><key>team</key>"
        "<value>red</value></item><item><key>aws:cloudformation:stack-name</key><value>s</value>"
        "</item></tagSet></item></volumeSet></DescribeVolumesResponse>";
    p = parse(x, volume, NULL, true);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.v[0].state, "in-use");
    assert_string_equal(p.v[0].parent, "i-a");
    assert_int_equal(p.v[0].created, 1577934245);
    const char *why;
    assert_int_equal(decide(x, &p.v[0], "{}", 0, &why), OPS_ACT);
    /* The volume's tags copied (not aws: ones), then escher:job and
     * escher:volume mark it. */
    body_is(action_body(x, &p.v[0], "{}", 0, true),
            "Action=CreateSnapshot&Version=2016-11-15&VolumeId=vol-1&"
            "Description=Escher%20snapshot%20of%20vol-1%20%28i-a%29&"
            "TagSpecification.1.ResourceType=snapshot&TagSpecification.1.Tag.1.Key=team&"
            "TagSpecification.1.Tag.1.Value=red&TagSpecification.1.Tag.2.Key=escher%3Ajob&"
            "TagSpecification.1.Tag.2.Value=job-1&TagSpecification.1.Tag.3.Key=escher%3Avolume&"
            "TagSpecification.1.Tag.3.Value=vol-1&DryRun=true");
    body_is(
        action_body(x, &p.v[0], "{\"description\": \"nightly\", \"copy_tags\": false}", 0, false),
        "Action=CreateSnapshot&Version=2016-11-15&VolumeId=vol-1&Description=nightly&"
        "TagSpecification.1.ResourceType=snapshot&TagSpecification.1.Tag.1.Key=escher%3Ajob&"
        "TagSpecification.1.Tag.1.Value=job-1&TagSpecification.1.Tag.2.Key=escher%3Avolume&"
        "TagSpecification.1.Tag.2.Value=vol-1");
    free(p.v[0].state);
    p.v[0].state = xstrdup("creating");
    assert_int_equal(decide(x, &p.v[0], "{}", 0, &why), OPS_CANNOT);
    parsed_free(&p);
    assert_string_equal(x->created_path, "snapshotId");
}

/* ---- ebs.delete_unattached ---- */

static void test_delete_unattached(void **state)
{
    (void)state;
    const ops_executor *x = exec_of("ebs.delete_unattached");
    assert_int_equal(x->nphases, 2);
    char *body =
        list_body(x, "{\"selector\": {\"tags\": {\"env\": [\"dev\"]}, \"ids\": [\"vol-9\"]}}", "t");
    assert_string_equal(body, "Action=DescribeVolumes&Version=2016-11-15&Filter.1.Name=tag%3Aenv&"
                              "Filter.1.Value.1=dev&Filter.2.Name=status&Filter.2.Value.1="
                              "available&Filter.3.Name=volume-id&Filter.3.Value.1=vol-9&"
                              "MaxResults=500&NextToken=t");
    free(body);
    ops_resource r = {.id = "vol-1",
                      .name = "",
                      .state = "available",
                      .parent = "",
                      .created = (long long)time(NULL) - 30 * 86400};
    const char *why;
    assert_int_equal(decide(x, &r, "{}", 0, &why), OPS_ACT);
    assert_int_equal(decide(x, &r, "{}", 1, &why), OPS_ACT);
    assert_int_equal(decide(x, &r, "{\"min_age_days\": 31}", 1, &why), OPS_NOTHING);
    r.created = (long long)time(NULL) - 3 * 86400; /* the default is 7 days */
    assert_int_equal(decide(x, &r, "{}", 0, &why), OPS_NOTHING);
    assert_int_equal(decide(x, &r, "{\"min_age_days\": 0}", 0, &why), OPS_ACT);
    /* Never one attached or in use, whatever the listing said. */
    r.parent = "i-1";
    assert_int_equal(decide(x, &r, "{\"min_age_days\": 0}", 1, &why), OPS_NOTHING);
    assert_string_equal(why, "attached to an instance: never deleted");
    r.parent = "";
    r.state = "in-use";
    assert_int_equal(decide(x, &r, "{\"min_age_days\": 0}", 1, &why), OPS_NOTHING);
    r.state = "available";
    /* Phase 0 snapshots (unless snapshot_first is false), phase 1 deletes. */
    char *snap = action_body(x, &r, "{}", 0, false);
    assert_non_null(strstr(snap, "Action=CreateSnapshot&"));
    assert_non_null(strstr(snap, "TagSpecification.1.Tag.1.Key=escher%3Ajob&"));
    free(snap);
    assert_null(action_body(x, &r, "{\"snapshot_first\": false}", 0, false));
    body_is(action_body(x, &r, "{}", 1, true),
            "Action=DeleteVolume&Version=2016-11-15&VolumeId=vol-1&DryRun=true");
    body_is(action_body(x, &r, "{}", 1, false),
            "Action=DeleteVolume&Version=2016-11-15&VolumeId=vol-1");
}

/* ---- RDS ---- */

static const char rds_answer[] =
    "<DescribeDBInstancesResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\">"
    "<DescribeDBInstancesResult><DBInstances>"
    "<DBInstance><DBInstanceIdentifier>db-a</DBInstanceIdentifier><DBInstanceStatus>available"
    "</DBInstanceStatus><TagList><Tag><Key>env</Key><Value>dev</Value></Tag><Tag><Key>Name</Key>"
    "<Value>orders</Value></Tag></TagList></DBInstance>"
    "<DBInstance><DBInstanceIdentifier>db-b</DBInstanceIdentifier><DBInstanceStatus>stopped"
    "</DBInstanceStatus><TagList><Tag><Key>env</Key><Value>prod</Value></Tag></TagList>"
    "</DBInstance>"
    "<DBInstance><DBInstanceIdentifier>db-c</DBInstanceIdentifier><DBInstanceStatus>stopped"
    "</DBInstanceStatus><TagList><Tag><Key>env</Key><Value>dev</Value></Tag></TagList>"
    "</DBInstance></DBInstances><Marker>m2</Marker></DescribeDBInstancesResult>"
    "<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>"
    "</DescribeDBInstancesResponse>";

static void test_rds(void **state)
{
    (void)state;
    const ops_executor *stop = exec_of("rds.stop"), *start = exec_of("rds.start"),
                       *snap = exec_of("rds.snapshot");
    assert_false(stop->dry_run_native);
    char *body = list_body(stop, "{\"selector\": {\"ids\": [\"db-a\", \"db-c\"]}}", "m2");
    assert_string_equal(body, "Action=DescribeDBInstances&Version=2014-10-31&"
                              "Filters.Filter.1.Name=db-instance-id&"
                              "Filters.Filter.1.Values.Value.1=db-a&"
                              "Filters.Filter.1.Values.Value.2=db-c&MaxRecords=100&Marker=m2");
    free(body);
    /* Tags, state and the name glob are matched on the answer. */
    parsed p = parse(stop, rds_answer, "{\"selector\": {\"tags\": {\"env\": [\"dev\"]}}}", false);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.v[0].id, "db-a");
    assert_string_equal(p.v[0].name, "orders");
    assert_string_equal(p.v[1].id, "db-c");
    parsed_free(&p);
    p = parse(stop, rds_answer,
              "{\"selector\": {\"tags\": {\"env\": null}, \"state\": \"stopped\"}}", false);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.v[0].id, "db-b");
    parsed_free(&p);
    p = parse(stop, rds_answer, "{\"selector\": {\"name\": \"ord*\"}}", false);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.v[0].id, "db-a");
    parsed_free(&p);
    p = parse(stop, rds_answer, NULL, true); /* a re-check takes all */
    assert_int_equal(p.n, 3);

    const char *why;
    assert_int_equal(decide(stop, &p.v[0], "{}", 0, &why), OPS_ACT);
    assert_int_equal(decide(stop, &p.v[1], "{}", 0, &why), OPS_NOTHING);
    assert_string_equal(why, "already stopped");
    assert_int_equal(decide(start, &p.v[1], "{}", 0, &why), OPS_ACT);
    assert_int_equal(decide(start, &p.v[0], "{}", 0, &why), OPS_NOTHING);
    assert_int_equal(decide(snap, &p.v[0], "{}", 0, &why), OPS_ACT);
    assert_int_equal(decide(snap, &p.v[1], "{}", 0, &why), OPS_ACT);
    ops_resource busy = {.id = "db-x", .name = "", .state = "modifying"};
    assert_int_equal(decide(stop, &busy, "{}", 0, &why), OPS_CANNOT);
    assert_int_equal(decide(start, &busy, "{}", 0, &why), OPS_CANNOT);
    assert_int_equal(decide(snap, &busy, "{}", 0, &why), OPS_CANNOT);

    body_is(action_body(stop, &p.v[0], "{}", 0, false),
            "Action=StopDBInstance&Version=2014-10-31&DBInstanceIdentifier=db-a");
    body_is(action_body(start, &p.v[1], "{}", 0, false),
            "Action=StartDBInstance&Version=2014-10-31&DBInstanceIdentifier=db-b");
    /* The snapshot's name is the job's: the same on a retry. */
    body_is(action_body(snap, &p.v[0], "{}", 0, false),
            "Action=CreateDBSnapshot&Version=2014-10-31&"
            "DBSnapshotIdentifier=escher-db-a-20261124-045455&DBInstanceIdentifier=db-a");
    body_is(action_body(snap, &p.v[0], "{\"snapshot_prefix\": \"nightly\"}", 0, false),
            "Action=CreateDBSnapshot&Version=2014-10-31&"
            "DBSnapshotIdentifier=nightly-db-a-20261124-045455&DBInstanceIdentifier=db-a");
    assert_string_equal(snap->already_code, "DBSnapshotAlreadyExists");
    parsed_free(&p);
}

/* ---- asg.set_capacity ---- */

static void test_asg(void **state)
{
    (void)state;
    const ops_executor *x = exec_of("asg.set_capacity");
    assert_false(x->dry_run_native);
    char *body = list_body(x, "{\"selector\": {\"ids\": [\"web\", \"api\"]}}", "n1");
    assert_string_equal(body, "Action=DescribeAutoScalingGroups&Version=2011-01-01&"
                              "AutoScalingGroupNames.member.1=web&"
                              "AutoScalingGroupNames.member.2=api&MaxRecords=100&NextToken=n1");
    free(body);
    static const char answer[] =
        "<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult><AutoScalingGroups>"
        "<member><AutoScalingGroupName>web</AutoScalingGroupName><MinSize>1</MinSize><MaxSize>4"
        "</MaxSize><DesiredCapacity>2</DesiredCapacity><Tags><member><Key>env</Key><Value>dev"
        "</Value></member></Tags></member>"
        "<member><AutoScalingGroupName>api</AutoScalingGroupName><MinSize>0</MinSize><MaxSize>0"
        "</MaxSize><DesiredCapacity>0</DesiredCapacity><Tags/></member>"
        "</AutoScalingGroups></DescribeAutoScalingGroupsResult></"
        "DescribeAutoScalingGroupsResponse>";
    parsed p = parse(x, answer, "{\"selector\": {\"tags\": {\"env\": [\"dev\"]}}}", false);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.v[0].id, "web");
    assert_string_equal(p.v[0].state, "1/4/2");
    parsed_free(&p);
    p = parse(x, answer, "{\"selector\": {\"name\": \"a*\"}}", false);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.v[0].id, "api");
    const char *why;
    assert_int_equal(decide(x, &p.v[0], "{\"min\": 0, \"max\": 0, \"desired\": 0}", 0, &why),
                     OPS_NOTHING);
    assert_string_equal(why, "already at that capacity");
    assert_int_equal(decide(x, &p.v[0], "{\"min\": 1, \"max\": 3, \"desired\": 2}", 0, &why),
                     OPS_ACT);
    body_is(action_body(x, &p.v[0], "{\"min\": 1, \"max\": 3, \"desired\": 2}", 0, false),
            "Action=UpdateAutoScalingGroup&Version=2011-01-01&AutoScalingGroupName=api&"
            "MinSize=1&MaxSize=3&DesiredCapacity=2");
    parsed_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tags_apply),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_snapshot_volumes),
        cmocka_unit_test(test_delete_unattached),
        cmocka_unit_test(test_rds),
        cmocka_unit_test(test_asg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
