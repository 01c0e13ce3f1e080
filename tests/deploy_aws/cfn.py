"""CloudFormation templates for the deploy/aws tests: a YAML loader that
understands the short tags (!Ref, !Sub, !GetAtt, ...), a reference checker,
a resolver of the intrinsics the templates use (to render a role's policies
as CloudFormation would create them), and a checker of IAM action names
against botocore's service models."""

import os
import re

import yaml
import botocore.loaders

SOURCE_DIR = os.environ.get("ESCHER_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
ROLE_TEMPLATE = os.path.join(SOURCE_DIR, "deploy", "aws", "customer-role.yaml")
STACKSET_TEMPLATE = os.path.join(SOURCE_DIR, "deploy", "aws", "customer-role-stackset.yaml")

PSEUDO = {"AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition",
          "AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix"}

# ---- loading ----


class CfnLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's short-form intrinsic tags, each made
    into its long form ({"Fn::Sub": ...}, {"Ref": ...})."""


def _construct(fn):
    def build(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if fn == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {fn: value}
    return build


for _tag in ("And", "Base64", "Cidr", "Equals", "FindInMap", "GetAtt", "GetAZs", "If",
             "ImportValue", "Join", "Not", "Or", "Select", "Split", "Sub", "Transform"):
    CfnLoader.add_constructor("!" + _tag, _construct("Fn::" + _tag))
CfnLoader.add_constructor("!Ref", _construct("Ref"))
CfnLoader.add_constructor("!Condition", _construct("Condition"))


def load(path):
    with open(path) as f:
        return yaml.load(f, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader


# ---- checking references ----

SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


def references(node, where="template"):
    """Yields (kind, name, where) for every Ref, GetAtt, Sub variable and
    Condition name in node."""
    if isinstance(node, dict):
        for k, v in node.items():
            here = f"{where}.{k}"
            if k == "Ref":
                yield ("Ref", v, here)
            elif k == "Fn::GetAtt":
                yield ("GetAtt", v[0], here)
            elif k == "Fn::Sub":
                text, extra = (v, {}) if isinstance(v, str) else (v[0], v[1])
                for name in SUB_VAR.findall(text):
                    if name not in extra:
                        yield ("Sub", name.split(".", 1)[0] if "::" not in name else name, here)
                yield from references(extra, here)
            elif k == "Condition" and isinstance(v, str):
                yield ("Condition", v, here)
            elif k == "Fn::If":
                yield ("Condition", v[0], here)
                yield from references(v[1:], here)
            else:
                yield from references(v, here)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from references(v, f"{where}[{i}]")


def bad_references(tpl):
    """Messages for references to names the template does not define."""
    params = set(tpl.get("Parameters", {}))
    resources = set(tpl.get("Resources", {}))
    conditions = set(tpl.get("Conditions", {}))
    bad = []
    for kind, name, where in references(tpl):
        if kind == "Condition":
            ok = name in conditions
        elif kind == "GetAtt":
            ok = name in resources
        else:
            ok = name in params or name in resources or name in PSEUDO
        if not ok:
            bad.append(f"{where}: {kind} '{name}' names no parameter, resource or condition")
    return bad


# ---- resolving ----


class Unsupported(Exception):
    pass


def resolve(node, values, conditions=None):
    """node with Ref, Fn::Sub, Fn::Join, Fn::If and Fn::Equals replaced by
    their values. values maps parameter and pseudo-parameter names to
    strings; anything else (GetAtt, an unknown Ref) raises Unsupported, so a
    template using an intrinsic the tests cannot render fails loudly."""
    conditions = conditions or {}
    if isinstance(node, list):
        return [resolve(v, values, conditions) for v in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        (k, v), = node.items()
        if k == "Ref":
            if v not in values:
                raise Unsupported(f"Ref {v} has no value")
            return values[v]
        if k == "Fn::Sub":
            text, extra = (v, {}) if isinstance(v, str) else (v[0], v[1])
            local = dict(values)
            local.update({n: resolve(x, values, conditions) for n, x in extra.items()})

            def sub(m):
                if m.group(1) not in local:
                    raise Unsupported(f"Fn::Sub ${{{m.group(1)}}} has no value")
                return str(local[m.group(1)])
            return SUB_VAR.sub(sub, text).replace("${!", "${")
        if k == "Fn::Join":
            return v[0].join(str(resolve(x, values, conditions)) for x in v[1])
        if k == "Fn::Equals":
            a, b = (resolve(x, values, conditions) for x in v)
            return str(a) == str(b)
        if k == "Fn::If":
            return resolve(v[1] if conditions[v[0]] else v[2], values, conditions)
        if k.startswith("Fn::"):
            raise Unsupported(f"{k} is not rendered by these tests")
    return {k: resolve(v, values, conditions) for k, v in node.items()}


def role_documents(tpl, logical_id, values):
    """(trust policy, [identity policy documents], max session duration) of
    the AWS::IAM::Role logical_id as CloudFormation would create it: its
    own Policies plus every AWS::IAM::Policy whose Roles name it."""
    res = tpl["Resources"]
    props = res[logical_id]["Properties"]
    trust = resolve(props["AssumeRolePolicyDocument"], values)
    docs = [resolve(p["PolicyDocument"], values) for p in props.get("Policies", [])]
    for r in res.values():
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": logical_id} in r["Properties"]["Roles"]:
            docs.append(resolve(r["Properties"]["PolicyDocument"], values))
    return trust, docs, int(resolve(props.get("MaxSessionDuration", 3600), values))


def statements(doc):
    st = doc["Statement"]
    return st if isinstance(st, list) else [st]


def actions_of(doc, effect="Allow"):
    out = []
    for s in statements(doc):
        if s["Effect"] == effect:
            a = s.get("Action", [])
            out += [a] if isinstance(a, str) else a
    return out


# ---- IAM action names ----

# IAM prefix -> botocore service directory.
BOTOCORE_SERVICE = {
    "autoscaling": "autoscaling", "ce": "ce", "cloudtrail": "cloudtrail",
    "cloudwatch": "cloudwatch", "ec2": "ec2", "iam": "iam", "organizations": "organizations",
    "rds": "rds", "s3": "s3", "sts": "sts",
}
# IAM action names that are not the wire operation's name.
IAM_ONLY = {
    "s3:ListAllMyBuckets": "ListBuckets",
    "s3:GetBucketPublicAccessBlock": "GetPublicAccessBlock",
    "s3:GetEncryptionConfiguration": "GetBucketEncryption",
    "sts:SetSourceIdentity": None,  # a permission AssumeRole checks, not an operation
    "sts:TagSession": None,
}

# Wire operation names that IAM knows by another name: in a policy they
# grant nothing.
NOT_IAM = {"s3:" + wire: iam for iam, wire in IAM_ONLY.items() if wire}

_operations = {}


def operations(service):
    if service not in _operations:
        model = botocore.loaders.Loader().load_service_model(service, "service-2")
        _operations[service] = set(model["operations"])
    return _operations[service]


def bad_action(action):
    """None when action is a real IAM action of a service botocore models;
    otherwise why not. Wildcards are refused: the templates name actions."""
    if not isinstance(action, str) or action.count(":") != 1:
        return f"'{action}' is not service:Action"
    prefix, name = action.split(":")
    if "*" in name or "?" in name:
        return f"'{action}' is a wildcard; name the actions"
    if prefix not in BOTOCORE_SERVICE:
        return f"'{action}': no botocore model is mapped for '{prefix}'"
    if action in NOT_IAM:
        return f"'{action}' is the wire name; IAM calls it {NOT_IAM[action]}"
    if action in IAM_ONLY:
        wire = IAM_ONLY[action]
        if wire is None or wire in operations(BOTOCORE_SERVICE[prefix]):
            return None
        return f"'{action}': its operation {wire} is not in botocore's {prefix} model"
    if name not in operations(BOTOCORE_SERVICE[prefix]):
        return f"'{action}': botocore's {BOTOCORE_SERVICE[prefix]} model has no {name}"
    return None
