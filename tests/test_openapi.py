"""The OpenAPI 3 document describes every /api/v1 endpoint the app serves."""

import json
import re

import pytest

IGNORED = {"HEAD", "OPTIONS"}


@pytest.fixture
def doc(client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    assert r.mimetype == "application/json"
    return r.get_json()


def api_rules(app) -> list[tuple[str, set[str]]]:
    """Every /api/v1 rule as an OpenAPI path ({x} for <x> or <conv:x>) with its methods."""
    rules = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule)
            rules.append((path, set(rule.methods) - IGNORED))
    return rules


def test_it_is_an_openapi_3_document(doc):
    assert re.match(r"^3\.\d+\.\d+$", doc["openapi"])
    assert doc["info"]["title"] and doc["info"]["version"]
    assert isinstance(doc["paths"], dict) and doc["paths"]
    assert all(path.startswith("/api/v1/") for path in doc["paths"])


def test_every_api_rule_and_method_is_documented(app, doc):
    rules = api_rules(app)
    assert len(rules) >= 10  # the core of API.md at least
    missing = [f"{method} {path}" for path, methods in rules for method in sorted(methods)
               if method.lower() not in doc["paths"].get(path, {})]
    assert missing == []


def test_every_documented_operation_is_served(app, doc):
    served = {}
    for path, methods in api_rules(app):
        served.setdefault(path, set()).update(m.lower() for m in methods)
    for path, operations in doc["paths"].items():
        assert path in served, path
        for method in operations:
            if method != "parameters":
                assert method in served[path], f"{method.upper()} {path}"


def test_operations_have_responses_and_path_parameters(doc):
    for path, operations in doc["paths"].items():
        names = set(re.findall(r"{([^}]+)}", path))
        for method, operation in operations.items():
            assert operation["responses"], f"{method} {path}"
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, f"{method} {path}"


def test_every_reference_resolves(doc):
    refs = re.findall(r'"\$ref": "#/([^"]+)"', json.dumps(doc))
    assert refs
    for ref in refs:
        node = doc
        for part in ref.split("/"):
            assert part in node, ref
            node = node[part]


def test_the_scan_endpoint_documents_its_answer_and_errors(doc):
    scan = doc["paths"]["/api/v1/scans"]["post"]
    assert {"201", "400", "401", "403", "404", "409"} <= set(scan["responses"])
    answer = scan["responses"]["201"]["content"]["application/json"]["schema"]
    assert {"accepted", "serial", "order", "step", "next_step"} <= set(answer["properties"])
    body = scan["requestBody"]["content"]["application/json"]["schema"]
    assert {"station", "code"} <= set(body["required"])
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_every_endpoint_documents_database_busy_with_retry_after(doc):
    busy = doc["components"]["responses"]["E503"]
    assert "DATABASE_BUSY" in busy["description"] and "Retry-After" in busy["headers"]
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            if path != "/api/v1/openapi.json":
                assert operation["responses"]["503"] == {"$ref": "#/components/responses/E503"}, \
                    f"{method} {path}"
