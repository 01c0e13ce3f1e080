#!/usr/bin/python3
"""docs/api/openapi.yaml against escher-api's route table.

Usage: test_openapi_routes.py ESCHER_API_BINARY OPENAPI_YAML

`escher-api routes` prints the table the server dispatches from (method,
pattern, roles, summary). This test fails when the spec and that table
disagree: a route in one and not the other, a path with another method, or
an operation whose `x-escher-roles` differ from the roles the route admits
(public routes: empty roles and `security: []`). It also checks that the spec
holds together as OpenAPI 3.0.3 the way clients rely on it: every $ref
resolves, every {param} of a path is declared, every operation answers with
X-Request-Id and the error object, every route declares 413, token routes
400/401/403/429, {id} routes 404, and lists have the {items, next_cursor}
shape.

Before reading the real files it proves the comparison can fail: a route
removed, a method changed and roles changed in a copy of the spec must each
be reported (so a checker that compares nothing cannot pass).

Summaries that differ are printed as notes, not failures: the table's
summary is the spec's by convention, but wording is not a contract.
Standard library and Debian's python3-yaml only.
"""
import copy
import re
import sys

import yaml

import apitest

ROLES = ("manager", "executor", "viewer")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def routes_of(binary):
    """The route table: {(METHOD, pattern): (roles set, summary)}."""
    table = {}
    for r in apitest.routes_of(binary):
        if (r.method, r.pattern) in table:
            raise SystemExit(f"escher-api routes lists {r} twice")
        table[(r.method, r.pattern)] = (r.roles, r.summary)
    return table


def operations_of(spec):
    """The spec's operations: {(METHOD, path): operation dict}."""
    ops = {}
    for path, item in (spec.get("paths") or {}).items():
        for method, op in item.items():
            if method in METHODS:
                ops[(method.upper(), path)] = op
    return ops


def spec_roles(op):
    roles = op.get("x-escher-roles")
    return None if roles is None else frozenset(roles)


def compare(table, spec):
    """Differences between the route table and the spec, as messages."""
    problems, notes = [], []
    ops = operations_of(spec)
    for key in sorted(set(table) - set(ops)):
        same_path = sorted(m for (m, p) in ops if p == key[1])
        extra = f" (the spec has {', '.join(same_path)} there)" if same_path else ""
        problems.append(f"{key[0]} {key[1]} is served but not in the spec{extra}")
    for key in sorted(set(ops) - set(table)):
        same_path = sorted(m for (m, p) in table if p == key[1])
        extra = f" (the server has {', '.join(same_path)} there)" if same_path else ""
        problems.append(f"{key[0]} {key[1]} is in the spec but not served{extra}")
    for key in sorted(set(ops) & set(table)):
        roles, summary = table[key]
        op = ops[key]
        want = spec_roles(op)
        name = f"{key[0]} {key[1]}"
        if want is None:
            problems.append(f"{name}: the spec has no x-escher-roles")
        elif want != roles:
            problems.append(f"{name}: the server admits {sorted(roles) or 'no token'}, "
                            f"the spec's x-escher-roles say {sorted(want) or 'no token'}")
        if want is not None and not want <= set(ROLES):
            problems.append(f"{name}: x-escher-roles has unknown roles {sorted(want - set(ROLES))}")
        security = op.get("security", spec.get("security"))
        if not roles and security != []:
            problems.append(f"{name} takes no token but its security is {security!r} (want [])")
        if roles and not any("bearer" in s for s in (security or [])):
            problems.append(f"{name} takes a token but its security is {security!r} (want bearer)")
        if op.get("summary") != summary:
            notes.append(f"{name}: summary differs: server {summary!r}, spec {op.get('summary')!r}")
    return problems, notes


def self_check(table):
    """The comparison must see each kind of disagreement in a spec built
    from the table itself."""
    spec = {"security": [{"bearer": []}], "paths": {}}
    for (method, pattern), (roles, summary) in table.items():
        op = {"summary": summary, "x-escher-roles": sorted(roles)}
        if not roles:
            op["security"] = []
        spec["paths"].setdefault(pattern, {})[method.lower()] = op
    problems, _ = compare(table, spec)
    if problems:
        fail("self-check: a spec made from the table itself disagrees with it: " + "; ".join(problems))
    keys = sorted(k for k in table if table[k][0])
    if len(keys) < 2:
        fail("self-check: the route table has fewer than two token routes")
        return
    # A route missing from the spec.
    m = copy.deepcopy(spec)
    del m["paths"][keys[0][1]][keys[0][0].lower()]
    if not any("is served but not in the spec" in p for p in compare(table, m)[0]):
        fail(f"self-check: removing {keys[0]} from the spec went unnoticed")
    # A method that differs (and so a route only in the spec).
    m = copy.deepcopy(spec)
    op = m["paths"][keys[1][1]].pop(keys[1][0].lower())
    other = "put" if keys[1][0] != "PUT" else "post"
    m["paths"][keys[1][1]][other] = op
    got = compare(table, m)[0]
    if not (any("not in the spec" in p for p in got) and any("not served" in p for p in got)):
        fail(f"self-check: changing the method of {keys[1]} went unnoticed: {got}")
    # Roles that differ.
    m = copy.deepcopy(spec)
    op = m["paths"][keys[0][1]][keys[0][0].lower()]
    op["x-escher-roles"] = sorted(set(ROLES) - set(op["x-escher-roles"])) or ["viewer"]
    if not any("x-escher-roles say" in p for p in compare(table, m)[0]):
        fail(f"self-check: changing the roles of {keys[0]} went unnoticed")
    print("ok: self-check: a missing route, a changed method and changed roles are each reported")


# ---- the spec as OpenAPI -------------------------------------------------------


def resolve(spec, ref):
    if not ref.startswith("#/"):
        return None
    node = spec
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def deref(spec, node):
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 20:
        node = resolve(spec, node["$ref"])
        seen += 1
    return node


def walk_refs(spec, node, where):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref is not None and resolve(spec, ref) is None:
            fail(f"{where}: $ref {ref} does not resolve")
        for k, v in node.items():
            walk_refs(spec, v, f"{where}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk_refs(spec, v, f"{where}[{i}]")


def schema_props(spec, schema):
    """The properties a schema promises, through $ref and allOf."""
    schema = deref(spec, schema) or {}
    props = dict(schema.get("properties") or {})
    for part in schema.get("allOf") or []:
        props.update(schema_props(spec, part))
    return props


def is_error_schema(spec, schema):
    props = schema_props(spec, schema)
    inner = schema_props(spec, props.get("error") or {})
    return {"code", "message", "request_id"} <= set(inner)


def check_structure(spec):
    if spec.get("openapi") != "3.0.3":
        fail(f"openapi is {spec.get('openapi')!r}, want '3.0.3'")
    info = spec.get("info") or {}
    if not info.get("title") or not info.get("version"):
        fail("info needs a title and a version")
    schemes = (spec.get("components") or {}).get("securitySchemes") or {}
    bearer = schemes.get("bearer") or {}
    if bearer.get("type") != "http" or bearer.get("scheme") != "bearer":
        fail(f"components.securitySchemes.bearer is {bearer!r}, want type http, scheme bearer")
    if spec.get("security") != [{"bearer": []}]:
        fail(f"the default security is {spec.get('security')!r}, want [{{'bearer': []}}]")
    walk_refs(spec, spec, "#")
    error = (spec.get("components") or {}).get("schemas", {}).get("Error")
    if not error or not is_error_schema(spec, error):
        fail("components.schemas.Error is not {error: {code, message, request_id}}")
    ids = {}
    for (method, path), op in operations_of(spec).items():
        name = f"{method} {path}"
        if op.get("operationId") in ids:
            fail(f"{name}: operationId {op.get('operationId')!r} also on {ids[op['operationId']]}")
        ids[op.get("operationId")] = name
        if not op.get("summary"):
            fail(f"{name}: no summary")
        # Path parameters: every {x} declared once, required, nothing extra.
        declared = set()
        item = spec["paths"][path]
        for p in (item.get("parameters") or []) + (op.get("parameters") or []):
            p = deref(spec, p)
            if p is None or "name" not in p or "in" not in p:
                fail(f"{name}: a parameter without name/in: {p!r}")
                continue
            if p["in"] == "path":
                declared.add(p["name"])
                if p.get("required") is not True:
                    fail(f"{name}: path parameter {p['name']} must be required")
            if "schema" not in p:
                fail(f"{name}: parameter {p['name']} has no schema")
        in_path = set(re.findall(r"\{([^}]+)\}", path))
        if declared != in_path:
            fail(f"{name}: path parameters declared {sorted(declared)}, in the path {sorted(in_path)}")
        # Responses.
        responses = op.get("responses") or {}
        if not any(code.startswith("2") for code in responses):
            fail(f"{name}: no 2xx response")
        public = op.get("security") == []
        # Every route: the body limit; token routes also refuse unknown
        # query parameters (400) before or after the handler.
        want = {"413"} if public else {"400", "401", "403", "413", "429"}
        if op.get("requestBody"):
            body = deref(spec, op["requestBody"])
            schema = deref(spec, (body.get("content") or {}).get("application/json", {}).get("schema"))
            if not schema or schema.get("type") != "object":
                fail(f"{name}: the request body is not a JSON object schema")
            elif schema.get("additionalProperties") is not False:
                fail(f"{name}: the request body schema must say additionalProperties: false "
                     "(the server refuses unknown fields)")
        if in_path:
            want |= {"400", "404"}
        if any(p.get("in") == "query" for p in (deref(spec, x) or {} for x in op.get("parameters") or [])):
            want.add("400")
        missing = want - set(responses)
        if missing:
            fail(f"{name}: responses lack {sorted(missing)}")
        for code, resp in responses.items():
            resp = deref(spec, resp)
            if resp is None:
                continue
            headers = resp.get("headers") or {}
            if "X-Request-Id" not in headers:
                fail(f"{name} {code}: no X-Request-Id header")
            if code == "429" and "Retry-After" not in headers:
                fail(f"{name} 429: no Retry-After header")
            content = resp.get("content") or {}
            if code[0] in "45" and not (public and code == "503"):
                schema = (content.get("application/json") or {}).get("schema")
                if not schema or not is_error_schema(spec, schema):
                    fail(f"{name} {code}: the body is not the error object")
            paged = "limit" in [(deref(spec, x) or {}).get("name") for x in op.get("parameters") or []]
            if code == "200" and paged:
                schema = (content.get("application/json") or {}).get("schema")
                props = schema_props(spec, schema)
                if set(props) != {"items", "next_cursor"}:
                    fail(f"{name} {code}: a paged list must be {{items, next_cursor}}, not {sorted(props)}")


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: test_openapi_routes.py ESCHER_API_BINARY OPENAPI_YAML")
    binary, spec_path = sys.argv[1], sys.argv[2]
    table = routes_of(binary)
    print(f"escher-api routes: {len(table)} routes")
    self_check(table)
    with open(spec_path, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    problems, notes = compare(table, spec)
    for p in problems:
        fail(p)
    for n in notes:
        print("note:", n)
    if not problems:
        print(f"ok: the spec and the route table agree on {len(table)} routes, methods and roles")
    check_structure(spec)
    if failures:
        print(f"{len(failures)} problems between docs/api/openapi.yaml and the route table")
    else:
        print("ok: the spec is well-formed OpenAPI 3.0.3 as checked")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
