"""The API's OpenAPI document (design §5, §16): valid OpenAPI 3.1 and complete, that is every
route of the /api/v1 blueprint documented with its request and response models.

openapi-spec-validator is not among the pinned requirements, so the rules of the 3.1
specification that matter to a client generator are checked here one by one.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

TOKEN = "api-token-0123456789"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
NAME = re.compile(r"^[a-zA-Z0-9.\-_]+$")


@pytest.fixture
def platform_env():
    return {"BOT_API_TOKEN": TOKEN}


@pytest.fixture
def document(client) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")  # public: no token
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.json


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"external or relative $ref {ref!r}"
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"$ref {ref} does not resolve"
        node = node[part]
    return node


def test_the_document_declares_openapi_3_1_with_info(document):
    assert re.match(r"^3\.1\.\d+$", document["openapi"])
    assert document["info"]["title"] and isinstance(document["info"]["version"], str)
    assert set(document) <= {"openapi", "info", "jsonSchemaDialect", "servers", "paths",
                             "webhooks", "components", "security", "tags", "externalDocs"}  # fmt: skip


def test_every_reference_resolves_inside_the_document(document):
    refs = _refs(document)
    assert refs
    for ref in refs:
        assert isinstance(_resolve(document, ref), dict)


def test_operations_have_responses_parameters_and_bodies_as_3_1_requires(document):
    schemes = document["components"]["securitySchemes"]
    for requirement in document["security"]:
        assert set(requirement) <= set(schemes)
    for name in document["components"]["schemas"]:
        assert NAME.match(name), name
    for path, item in document["paths"].items():
        assert path.startswith("/api/v1/")
        templated = set(re.findall(r"\{([^}]+)\}", path))
        for method, op in item.items():
            assert method in METHODS
            assert op["responses"], f"{method} {path} has no responses"
            for status, response in op["responses"].items():
                assert re.match(r"^([1-5]\d\d|[1-5]XX|default)$", status)
                assert response["description"]
                for media in response.get("content", {}).values():
                    assert "schema" in media
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == templated, f"{method} {path}: path parameters {declared}"
            for p in op.get("parameters", []):
                assert p["in"] in {"query", "header", "path", "cookie"}
                assert p["in"] != "path" or p["required"] is True
                assert "schema" in p or "content" in p
            if "requestBody" in op:
                assert op["requestBody"]["content"]["application/json"]["schema"]


def test_every_api_route_is_documented_with_the_same_method(app, document):
    # Parameter names are the document's own (design §13 says {id}); the view's variable name
    # is internal, so paths are compared with every parameter as {}.
    routes = {
        (re.sub(r"<[^>]+>", "{}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {
        (re.sub(r"\{[^}]+\}", "{}", path), method)
        for path, item in document["paths"].items()
        for method in item
    }
    assert routes == documented


def test_request_models_say_which_fields_are_required(document):
    task_in = document["components"]["schemas"]["TaskIn"]
    assert {"source", "external_id", "title", "owner"} <= set(task_in["required"])
    assert task_in["properties"]["due_at"]["anyOf"][0]["format"] == "date-time"


def test_refusals_are_documented_with_the_error_body(document):
    for item in document["paths"].values():
        for op in item.values():
            for status in ("400", "401", "403"):
                schema = op["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorOut"}
