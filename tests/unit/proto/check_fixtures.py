#!/usr/bin/python3
"""Checks the AWS answer fixtures in tests/data/aws against botocore's models.

The C tests parse these fixtures; if a fixture drifted from the real wire
shape (a misspelt element, a list without its <member>/<item> wrapper, a
field at the wrong level) the tests would prove nothing about real answers.
Every element / key of every fixture must be a member of the model's shape
at that point, with the model's wire name (locationName, flattening, the
query resultWrapper), and scalars must parse as the model's type.

Usage: check_fixtures.py <tests/data/aws> [<botocore data dir>]
Exit status 0 when every fixture conforms, 1 otherwise (each problem printed).
"""
import datetime
import json
import os
import sys
import xml.etree.ElementTree as ET

# fixture -> (service model dir, operation, kind, strict)
# kind: "output" for a successful answer, "error" for an error document.
# strict: required members must be present (off for fixtures that are
# deliberately incomplete to test the parser's failure path).
FIXTURES = {
    "sts/assume_role.xml": ("sts/2011-06-15", "AssumeRole", "output", True),
    "sts/assume_role_no_token.xml": ("sts/2011-06-15", "AssumeRole", "output", False),
    "sts/assume_role_with_web_identity.xml": ("sts/2011-06-15", "AssumeRoleWithWebIdentity", "output", True),
    "sts/get_caller_identity.xml": ("sts/2011-06-15", "GetCallerIdentity", "output", True),
    "paging/ec2_describe_instances_1.xml": ("ec2/2016-11-15", "DescribeInstances", "output", True),
    "paging/ec2_describe_instances_2.xml": ("ec2/2016-11-15", "DescribeInstances", "output", True),
    "paging/iam_list_users_1.xml": ("iam/2010-05-08", "ListUsers", "output", True),
    "paging/iam_list_users_2.xml": ("iam/2010-05-08", "ListUsers", "output", True),
    "paging/s3_list_objects_v2_1.xml": ("s3/2006-03-01", "ListObjectsV2", "output", True),
    "paging/s3_list_objects_v2_2.xml": ("s3/2006-03-01", "ListObjectsV2", "output", True),
    "paging/organizations_list_accounts_1.json": ("organizations/2016-11-28", "ListAccounts", "output", True),
    "paging/organizations_list_accounts_2.json": ("organizations/2016-11-28", "ListAccounts", "output", True),
    "paging/ce_get_cost_and_usage_1.json": ("ce/2017-10-25", "GetCostAndUsage", "output", True),
    "paging/ce_get_cost_and_usage_2.json": ("ce/2017-10-25", "GetCostAndUsage", "output", True),
    "errors/query_throttling.xml": ("sts/2011-06-15", None, "error", True),
    "errors/query_no_such_entity.xml": ("iam/2010-05-08", None, "error", True),
    "errors/ec2_malformed_instance.xml": ("ec2/2016-11-15", None, "error", True),
    "errors/ec2_request_limit.xml": ("ec2/2016-11-15", None, "error", True),
    "errors/json_namespaced.json": ("organizations/2016-11-28", None, "error", True),
    "errors/json_plain.json": ("ce/2017-10-25", None, "error", True),
    "errors/json_coral_suffix.json": ("organizations/2016-11-28", None, "error", True),
    "errors/restxml_no_such_key.xml": ("s3/2006-03-01", None, "error", True),
    "errors/restxml_slow_down.xml": ("s3/2006-03-01", None, "error", True),
}

# Codes every AWS service may answer with although no model lists them
# (botocore's retry configuration and the SDKs' common errors).
COMMON_CODES = {
    "Throttling", "ThrottlingException", "RequestLimitExceeded", "SlowDown",
    "InternalError", "InternalFailure", "ServiceUnavailable", "AccessDenied",
    "AccessDeniedException", "ValidationError", "ValidationException",
    "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken",
    "RequestExpired", "IncompleteSignature", "UnrecognizedClientException",
    "InvalidInstanceID.Malformed", "InvalidInstanceID.NotFound",
}

# ---- S3 (rest-xml) fixtures in tests/data/aws/s3 ----
# fixture -> (operation, kind, strict), all against the s3/2006-03-01 model.
S3_FIXTURES = {
    "s3/list_buckets.xml": ("ListBuckets", "output", True),
    "s3/list_buckets_empty.xml": ("ListBuckets", "output", True),
    "s3/get_bucket_location.xml": ("GetBucketLocation", "output", True),
    "s3/get_bucket_location_us_east_1.xml": ("GetBucketLocation", "output", True),
    "s3/get_bucket_location_eu.xml": ("GetBucketLocation", "output", True),
    "s3/get_public_access_block.xml": ("GetPublicAccessBlock", "output", True),
    "s3/get_bucket_policy_status.xml": ("GetBucketPolicyStatus", "output", True),
    "s3/get_bucket_encryption_kms.xml": ("GetBucketEncryption", "output", True),
    "s3/get_bucket_encryption_sse_s3.xml": ("GetBucketEncryption", "output", True),
    "s3/list_objects_v2_1.xml": ("ListObjectsV2", "output", True),
    "s3/list_objects_v2_2.xml": ("ListObjectsV2", "output", True),
    "s3/list_objects_v2_3.xml": ("ListObjectsV2", "output", True),
    "s3/list_objects_v2_empty.xml": ("ListObjectsV2", "output", True),
    "s3/error_no_such_bucket.xml": (None, "error", True),
    "s3/error_no_such_public_access_block.xml": (None, "error", True),
    "s3/error_sse_config_not_found.xml": (None, "error", True),
    "s3/error_permanent_redirect.xml": (None, "error", True),
    # The older S3 fixtures of the paging tests get the root check too.
    "paging/s3_list_objects_v2_1.xml": ("ListObjectsV2", "output", True),
    "paging/s3_list_objects_v2_2.xml": ("ListObjectsV2", "output", True),
}
S3_MODEL = "s3/2006-03-01"
S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"

# Root elements of outputs without a payload member. The model does not name
# them (botocore's parser ignores the root), so these come from the S3 API
# reference; an output shape that gains a locationName takes precedence.
S3_RESULT_ROOTS = {
    "ListBuckets": "ListAllMyBucketsResult",
    "ListObjectsV2": "ListBucketResult",
}

# S3 error codes from the S3 API reference's error-code list that the model
# does not declare as exception shapes (it declares only a handful).
S3_DOCUMENTED_CODES = {
    "NoSuchBucket", "NoSuchKey", "NoSuchBucketPolicy", "NoSuchPublicAccessBlockConfiguration",
    "ServerSideEncryptionConfigurationNotFoundError", "PermanentRedirect", "TemporaryRedirect",
    "AuthorizationHeaderMalformed", "IllegalLocationConstraintException", "AllAccessDisabled",
}

# Extra members S3 sends in particular error documents.
S3_ERROR_MEMBERS = {
    "PermanentRedirect": ["Endpoint", "Bucket"],
}

problems = []


def problem(where, msg):
    problems.append(f"{where}: {msg}")


def local(tag):
    return tag.rsplit("}", 1)[-1]


class Model:
    def __init__(self, path):
        with open(path) as f:
            self.m = json.load(f)
        self.protocol = self.m["metadata"]["protocol"]

    def shape(self, name):
        return self.m["shapes"][name]

    def error_codes(self):
        codes = set()
        for name, s in self.m["shapes"].items():
            if s.get("exception"):
                codes.add(name)
                if "error" in s and "code" in s["error"]:
                    codes.add(s["error"]["code"])
        return codes


def check_scalar(where, shape, text):
    t = shape["type"]
    try:
        if t in ("integer", "long"):
            int(text)
        elif t in ("float", "double"):
            float(text)
        elif t == "boolean":
            if text not in ("true", "false"):
                raise ValueError(text)
        elif t == "timestamp":
            datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        problem(where, f"{text!r} is not a {t}")
    if t == "string" and "enum" in shape and text not in shape["enum"]:
        problem(where, f"{text!r} is not one of the enum values")


def xml_member_name(model, mname, member):
    if model.protocol == "ec2":
        return member.get("locationName", mname[0].lower() + mname[1:])
    return member.get("locationName", mname)


def check_xml(model, where, shape_name, node, strict):
    shape = model.shape(shape_name)
    t = shape["type"]
    children = list(node)
    if t == "structure":
        by_wire = {}
        for mname, member in shape["members"].items():
            if member.get("location") in ("header", "headers", "statusCode", "uri", "querystring"):
                continue
            by_wire[xml_member_name(model, mname, member)] = (mname, member)
        seen = set()
        for c in children:
            tag = local(c.tag)
            if tag not in by_wire:
                problem(f"{where}/{tag}", f"not a member of {shape_name} (members: {sorted(by_wire)})")
                continue
            mname, member = by_wire[tag]
            seen.add(mname)
            mshape = model.shape(member["shape"])
            if mshape["type"] == "list" and mshape.get("flattened"):
                check_xml(model, f"{where}/{tag}", mshape["member"]["shape"], c, strict)
            else:
                check_xml(model, f"{where}/{tag}", member["shape"], c, strict)
        if strict:
            for req in shape.get("required", []):
                if req not in seen:
                    problem(where, f"required member {req} of {shape_name} is missing")
    elif t == "list":
        item = shape["member"].get("locationName", "member")
        for c in children:
            if local(c.tag) != item:
                problem(f"{where}/{local(c.tag)}", f"list {shape_name} items must be <{item}>")
            else:
                check_xml(model, f"{where}/{item}", shape["member"]["shape"], c, strict)
    elif t == "map":
        for c in children:
            if local(c.tag) != "entry":
                problem(where, f"map {shape_name} entries must be <entry>")
    else:
        if children:
            problem(where, f"{shape_name} is a {t} but has child elements")
        check_scalar(where, shape, node.text or "")


def check_json(model, where, shape_name, value, strict):
    shape = model.shape(shape_name)
    t = shape["type"]
    if t == "structure":
        if not isinstance(value, dict):
            return problem(where, f"{shape_name} must be an object")
        for k, v in value.items():
            if k not in shape["members"]:
                problem(f"{where}.{k}", f"not a member of {shape_name}")
                continue
            check_json(model, f"{where}.{k}", shape["members"][k]["shape"], v, strict)
        if strict:
            for req in shape.get("required", []):
                if req not in value:
                    problem(where, f"required member {req} of {shape_name} is missing")
    elif t == "list":
        if not isinstance(value, list):
            return problem(where, f"{shape_name} must be an array")
        for i, v in enumerate(value):
            check_json(model, f"{where}[{i}]", shape["member"]["shape"], v, strict)
    elif t == "map":
        if not isinstance(value, dict):
            return problem(where, f"{shape_name} must be an object")
        for k, v in value.items():
            check_json(model, f"{where}.{k}", shape["value"]["shape"], v, strict)
    elif t == "string":
        if not isinstance(value, str):
            problem(where, f"{shape_name} must be a string")
        elif "enum" in shape and value not in shape["enum"]:
            problem(where, f"{value!r} is not one of the enum values of {shape_name}")
    elif t == "boolean":
        if not isinstance(value, bool):
            problem(where, f"{shape_name} must be a boolean")
    elif t in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            problem(where, f"{shape_name} must be an integer")
    elif t in ("float", "double", "timestamp"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problem(where, f"{shape_name} must be a number")


def check_output(model, name, op, path, strict):
    o = model.m["operations"][op]
    out = o["output"]["shape"]
    if model.protocol == "json":
        with open(path) as f:
            return check_json(model, name, out, json.load(f), strict)
    root = ET.parse(path).getroot()
    tag = local(root.tag)
    if model.protocol == "query":
        if tag != op + "Response":
            problem(name, f"root is <{tag}>, expected <{op}Response>")
        wrapper = o["output"].get("resultWrapper")
        for c in root:
            ct = local(c.tag)
            if ct == wrapper:
                check_xml(model, f"{name}/{ct}", out, c, strict)
            elif ct == "ResponseMetadata":
                if [local(x.tag) for x in c] != ["RequestId"]:
                    problem(f"{name}/ResponseMetadata", "must hold exactly <RequestId>")
            else:
                problem(f"{name}/{ct}", f"expected <{wrapper}> or <ResponseMetadata>")
    elif model.protocol == "ec2":
        if tag != op + "Response":
            problem(name, f"root is <{tag}>, expected <{op}Response>")
        rid = [c for c in root if local(c.tag) == "requestId"]
        for c in rid:
            root.remove(c)
        if len(rid) != 1:
            problem(name, "EC2 answers carry one <requestId>")
        check_xml(model, name, out, root, strict)
    elif model.protocol == "rest-xml":
        check_xml(model, name, out, root, strict)


def check_error(model, name, path):
    codes = model.error_codes() | COMMON_CODES
    p = model.protocol
    if p == "json":
        with open(path) as f:
            doc = json.load(f)
        if set(doc) - {"__type", "message", "Message", "Type", "Reason"}:
            problem(name, f"unexpected keys {sorted(set(doc))}")
        if "message" not in doc and "Message" not in doc:
            problem(name, "no message / Message")
        code = doc.get("__type", "").rsplit("#", 1)[-1].split(":", 1)[0]
    else:
        root = ET.parse(path).getroot()
        tags = lambda n: [local(c.tag) for c in n]
        if p == "query":
            if local(root.tag) != "ErrorResponse" or tags(root) != ["Error", "RequestId"]:
                problem(name, "query errors are <ErrorResponse><Error/><RequestId/></ErrorResponse>")
            err = root.find("{*}Error")
            if err is None or tags(err)[:3] != ["Type", "Code", "Message"]:
                problem(name, "<Error> holds <Type>, <Code>, <Message>")
        elif p == "ec2":
            if local(root.tag) != "Response" or tags(root) != ["Errors", "RequestID"]:
                problem(name, "EC2 errors are <Response><Errors/><RequestID/></Response>")
            err = root.find("Errors/Error")
            if err is None or tags(err) != ["Code", "Message"]:
                problem(name, "<Errors><Error> holds <Code>, <Message>")
        elif p == "rest-xml":
            err = root
            if local(root.tag) != "Error" or tags(root)[:2] != ["Code", "Message"] \
                    or "RequestId" not in tags(root) or "HostId" not in tags(root):
                problem(name, "S3 errors are <Error><Code/><Message/>...<RequestId/><HostId/></Error>")
        code = err.findtext("{*}Code") if err is not None else None
        if code is None and err is not None:
            code = err.findtext("Code")
    if code not in codes:
        problem(name, f"error code {code!r} is neither modeled by the service nor a common AWS code")


def s3_root_name(model, op):
    """(root element, shape to check it against, scalar) for op's output."""
    out_name = model.m["operations"][op]["output"]["shape"]
    out = model.shape(out_name)
    if "payload" in out:
        member = out["members"][out["payload"]]
        shape = model.shape(member["shape"])
        root = member.get("locationName") or shape.get("locationName") or out["payload"]
        return root, member["shape"], False
    if "locationName" in out:
        return out["locationName"], out_name, False
    if op == "GetBucketLocation":
        # botocore special-cases it: the root *is* the LocationConstraint member.
        member = out["members"]["LocationConstraint"]
        return "LocationConstraint", member["shape"], True
    if op not in S3_RESULT_ROOTS:
        problem(op, "no root element known for this output: add it to S3_RESULT_ROOTS")
        return None, out_name, False
    return S3_RESULT_ROOTS[op], out_name, False


def check_s3_output(model, name, op, path, strict):
    root = ET.parse(path).getroot()
    tag = local(root.tag)
    ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if ns != S3_NAMESPACE:
        problem(name, f"root namespace is {ns!r}, S3 answers use {S3_NAMESPACE!r}")
    want, shape_name, scalar = s3_root_name(model, op)
    if want is not None and tag != want:
        problem(name, f"root is <{tag}>, expected <{want}> for {op}")
    if scalar:
        if list(root):
            problem(name, f"<{tag}> is a scalar but has child elements")
        # Empty is S3's way of saying us-east-1 (the model's null).
        if root.text:
            check_scalar(name, model.shape(shape_name), root.text)
        return
    check_xml(model, name, shape_name, root, strict)


def check_s3_error(model, name, path):
    extra = S3_DOCUMENTED_CODES - COMMON_CODES
    COMMON_CODES.update(extra)
    try:
        check_error(model, name, path)
    finally:
        COMMON_CODES.difference_update(extra)
    root = ET.parse(path).getroot()
    if root.tag.startswith("{"):
        problem(name, "S3 error documents carry no namespace")
    code = root.findtext("Code")
    tags = [local(c.tag) for c in root]
    for m in S3_ERROR_MEMBERS.get(code, []):
        if m not in tags:
            problem(name, f"{code} errors carry <{m}>")


def check_s3_fixtures(data, models):
    for f in os.listdir(os.path.join(data, "s3")):
        if f"s3/{f}" not in S3_FIXTURES:
            problem(f"s3/{f}", "fixture not listed in S3_FIXTURES: it would go unchecked")
    model = Model(os.path.join(models, S3_MODEL, "service-2.json"))
    for name, (op, kind, strict) in sorted(S3_FIXTURES.items()):
        path = os.path.join(data, name)
        try:
            if kind == "output":
                check_s3_output(model, name, op, path, strict)
            else:
                check_s3_error(model, name, path)
        except (ET.ParseError, OSError) as e:
            problem(name, f"cannot read: {e}")
    print(f"{len(S3_FIXTURES)} S3 fixtures checked")


def main():
    data = sys.argv[1]
    models = sys.argv[2] if len(sys.argv) > 2 else "/usr/lib/python3/dist-packages/botocore/data"
    listed = set(FIXTURES)
    for sub in ("sts", "paging", "errors"):
        for f in os.listdir(os.path.join(data, sub)):
            if f"{sub}/{f}" not in listed and not f.startswith("restjson"):
                problem(f"{sub}/{f}", "fixture not listed in check_fixtures.py: it would go unchecked")
    for name, (svc, op, kind, strict) in sorted(FIXTURES.items()):
        model = Model(os.path.join(models, svc, "service-2.json"))
        path = os.path.join(data, name)
        try:
            if kind == "output":
                check_output(model, name, op, path, strict)
            else:
                check_error(model, name, path)
        except (ET.ParseError, json.JSONDecodeError, OSError) as e:
            problem(name, f"cannot read: {e}")
    if os.path.isdir(os.path.join(data, "s3")):
        check_s3_fixtures(data, models)
    for p in problems:
        print(p)
    print(f"{len(FIXTURES)} fixtures checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
