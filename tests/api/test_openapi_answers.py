#!/usr/bin/python3
"""What escher-api answers, against what docs/api/openapi.yaml promises.

Usage: test_openapi_answers.py ESCHER_API_BINARY OPENAPI_YAML

api_openapi_routes compares the route table with the spec; this test runs
the server (private database, tenants A and B as the acceptance suite makes
them, --max-body-bytes 4096) and sends every route of `escher-api routes`:
each role (admitted: a valid request that succeeds; not admitted: 403), no
token (401), a malformed path id (400), another tenant's id (404), a
malformed body (400), an oversize body (413), an unknown query parameter
(400). Every status must be one the operation declares, and every JSON body
must match the declared schema: types, required and nullable fields, enums,
patterns, uuid and date-time formats, and no field the schema does not
list (so the spec documents every field the server sends).

Needs Debian's python3-yaml; skipped (77) without ESCHER_TEST_PG_URL.
"""
import re
import sys
import urllib.parse

import yaml

import apitest

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


def node_ref(ref):
    return ref[2:].split("/")


def resolve(spec, node):
    for _ in range(20):
        if not (isinstance(node, dict) and "$ref" in node):
            return node
        target = spec
        for part in node_ref(node["$ref"]):
            target = target[part]
        node = target
    raise ValueError("$ref chain too long")


def props_of(spec, schema):
    """(properties, free) of an object schema through allOf; free when the
    schema lists no properties (a free-form object)."""
    schema = resolve(spec, schema)
    props = dict(schema.get("properties") or {})
    listed = "properties" in schema
    for part in schema.get("allOf") or []:
        p, part_free = props_of(spec, part)
        props.update(p)
        listed = listed or not part_free
    return props, not listed


def validate(spec, schema, value, where, errors, closed=True):
    """Appends to errors where value breaks schema. closed: fields the
    schema does not list are errors (off for the parts of an allOf, which
    each list only some)."""
    schema = resolve(spec, schema)
    if value is None:
        nullable = schema.get("nullable") or any(
            resolve(spec, p).get("nullable") for p in schema.get("allOf") or [])
        if not nullable:
            errors.append(f"{where}: null, but the schema is not nullable")
        return
    for part in schema.get("allOf") or []:
        validate(spec, {k: v for k, v in resolve(spec, part).items() if k != "nullable"}, value,
                 where, errors, closed=False)
    t = schema.get("type")
    checks = {"object": dict, "array": list, "string": str, "boolean": bool}
    if t in checks and not isinstance(value, checks[t]):
        errors.append(f"{where}: {type(value).__name__} {str(value)[:60]!r}, want {t}")
        return
    if t == "integer" and (not isinstance(value, int) or isinstance(value, bool)):
        errors.append(f"{where}: {value!r}, want an integer")
        return
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where}: {value[:80]!r} does not match {schema['pattern']}")
        if schema.get("format") == "uuid" and not UUID_RE.match(value):
            errors.append(f"{where}: {value[:80]!r} is not a lower-case uuid")
        if schema.get("format") == "date-time" and not TIME_RE.match(value):
            errors.append(f"{where}: {value[:80]!r} is not an ISO-8601 UTC time")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            validate(spec, schema["items"], item, f"{where}[{i}]", errors)
    if isinstance(value, dict) and (t == "object" or "properties" in schema or "allOf" in schema):
        props, free = props_of(spec, schema)
        required = set(schema.get("required") or [])  # allOf parts check their own
        for k in sorted(required - set(value)):
            errors.append(f"{where}: required field '{k}' missing")
        if closed and not free:
            for k in sorted(set(value) - set(props)):
                errors.append(f"{where}: field '{k}' is not in the spec")
        if "allOf" not in schema:
            for k, v in value.items():
                if k in props:
                    validate(spec, props[k], v, f"{where}.{k}", errors)


class Checker:
    def __init__(self, spec, res):
        self.spec = spec
        self.res = res
        self.seen = {}  # (method, pattern) -> set of statuses

    def answer(self, route, a, what):
        op = self.spec["paths"][route.pattern][route.method.lower()]
        code = str(a.status)
        self.seen.setdefault(str(route), set()).add(a.status)
        responses = op.get("responses") or {}
        if not self.res.check(code in responses or "default" in responses,
                              f"{route} [{what}]: status {code} is declared in the spec",
                              f"declared {sorted(responses)}; got {a.short()}"):
            return
        resp = resolve(self.spec, responses.get(code) or responses["default"])
        content = resp.get("content") or {}
        ctype = a.headers.get("content-type", "").split(";")[0].strip()
        if not content:
            self.res.check(not a.body, f"{route} [{what}]: {code} has no body, as declared", a.short())
            return
        if not self.res.check(ctype in content, f"{route} [{what}]: Content-Type {ctype!r} is declared",
                              f"declared {sorted(content)}"):
            return
        if ctype != "application/json":
            return
        errors = []
        validate(self.spec, content[ctype].get("schema") or {}, a.json, "body", errors)
        self.res.check(not errors, f"{route} [{what}]: the {code} body matches the spec",
                       "; ".join(errors[:8]) + f" -- {a.short()}")


def run_checks(stack, routes, res, spec):
    chk = Checker(spec, res)
    fx = apitest.Fixtures(stack)
    c = stack.client
    A, B = stack.tenants["A"], stack.tenants["B"]
    other = fx.objects(B)
    for route in routes:
        if route.pattern not in spec["paths"] or route.method.lower() not in spec["paths"][route.pattern]:
            res.check(False, f"{route} is not in the spec (api_openapi_routes says more)")
            continue
        roles = apitest.ROLES if route.roles else ("none",)
        for role in roles:
            path, body = fx.make(route, A, role if role != "none" else "manager")
            token = A.tokens.get(role)
            chk.answer(route, c.call(route.method, path, body, token=token), role)
        if route.public:
            continue
        admitted = next(r for r in apitest.ROLES if r in route.roles)
        token = A.tokens[admitted]
        path, body = fx.make(route, A, admitted)
        chk.answer(route, c.call(route.method, path, body), "no token")
        sep = "&" if "?" in path else "?"
        chk.answer(route, c.call(route.method, path + sep + "bogus=1", body, token=token),
                   "unknown query parameter")
        chk.answer(route, c.call(route.method, path, {"name": "x" * 5000}, token=token), "oversize")
        if body is not None:
            chk.answer(route, c.call(route.method, path, b"{", token=token), "malformed body")
        if route.params:
            kind = apitest.kind_of(route)
            chk.answer(route, c.call(route.method, route.path(id="not-an-id"), body, token=token),
                       "malformed id")
            chk.answer(route, c.call(route.method, route.path(id=urllib.parse.quote(other[kind])),
                                     body, token=token), "another tenant's id")
    print("\nStatuses seen per route:")
    apitest.print_table(["route", "statuses"],
                        [[k, " ".join(str(s) for s in sorted(v))] for k, v in chk.seen.items()])
    print()


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: test_openapi_answers.py ESCHER_API_BINARY OPENAPI_YAML")
    with open(sys.argv[2], encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    sys.argv = sys.argv[:2]
    apitest.main("api_openapi_answers", "oas",
                 lambda stack, routes, res: run_checks(stack, routes, res, spec),
                 ("--max-body-bytes", "4096"))


if __name__ == "__main__":
    main()
