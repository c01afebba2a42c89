"""Hostile input on every API route (design §5: never 500 for bad input).

The OpenAPI document is walked: for every route with a request body, every string (object keys
too), time, date, number and array field of its schema gets each hostile value in an otherwise
valid body (a NUL, a lone surrogate sent as a JSON escape, times whose UTC conversion overflows,
10,000-deep arrays, numbers past every bound); the answer must be 400 naming that field, and no
row may be added anywhere. Path and query parameters get NULs and huge numbers: 400 or 404.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import MetaData, func, select

from tests.change_support import HEADERS, TOKEN, add_module, change_body, impact, make_plant
from tests.factories import make_employee

WRITES = {"post", "put", "patch"}
ANY_KEY = object()  # an additionalProperties member: any key of the example's object
DEEP = "[" * 10_000 + "]" * 10_000
SLOT = "\x01hostile-slot\x01"  # replaced by raw JSON text after json.dumps
TEXTS = {"nul": "a\x00b", "lone-surrogate": "\ud800"}  # json.dumps sends "\ud800" as an escape
TIMES = [
    "9999-12-31T23:00:00+00:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00Z",
]
DATES = ["9999-12-31", "0001-01-01"]
NUMBERS = ["1e400", "-1e400", "NaN", "1" + "0" * 30, "-" + "1" + "0" * 30]
HUGE_IDS = ["99999999999999999999", "2147483648", "%00", "1%00", "%D9%A1", "-1", "%ED%A0%80"]


@pytest.fixture
def platform_env():
    return {"BOT_API_TOKEN": TOKEN}


@pytest.fixture
def world(client, session) -> dict[str, Any]:
    """The people, a module and one change that the examples name."""
    plant = make_plant(session)
    add_module(session, "冲压", plant["liu"])
    plant["wu"] = make_employee(session, name="吴工", supervisor=plant["boss"])  # a third rater
    created = client.post(
        "/api/v1/changes",
        json=change_body(plant["engineer"], impact(owner=plant["zhang"]), external_id="ECO-1"),
        headers=HEADERS,
    )
    assert created.status_code == 201
    return plant | {"change": created.get_json()["id"]}


def _examples(world: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Valid bodies per write route; together they reach every field of the route's schema."""
    zhang, liu, boss = world["zhang"], world["liu"], world["boss"]
    engineer = world["engineer"]
    change = change_body(
        engineer, impact(owner=zhang), impact(module="冲压"), external_id="ECO-2",
        notify=[boss.employee_no],
    )  # fmt: skip
    question = [{"text": "交接记录是否完整清楚", "kind": "scale"}]
    survey = {"title": "一班互评", "questions": question, "subjects": [zhang.employee_no],
              "raters": "peers+supervisor", "due": "2026-12-10T18:00:00+08:00"}  # fmt: skip
    broadcast = {"title": "停电", "text": "明天停电检修", "important": True}
    return {
        ("post", "/api/v1/tasks"): [
            {
                "source": "mes",
                "external_id": "WO-1",
                "title": "模具点检逾期",
                "owner": zhang.employee_no,
                "due_at": "2026-11-26T14:00:00+08:00",
                "severity": "urgent",
                "policy": "overdue",
                "kind": "alert",
                "detail": "3 号线",
            },
        ],  # fmt: skip
        ("post", "/api/v1/broadcasts"): [
            broadcast | {"to": "all"},
            broadcast | {"to": {"departments": [boss.department.name]}},
            broadcast | {"to": {"employees": [zhang.employee_no]}},
        ],
        ("post", "/api/v1/surveys"): [
            survey,
            survey
            | {
                "raters": {
                    zhang.employee_no: [liu.employee_no, boss.employee_no, world["wu"].employee_no]
                }
            },
        ],
        ("post", "/api/v1/changes"): [change],
        ("post", "/api/v1/changes/{id}/retests"): [
            {"owner": zhang.employee_no, "result": "pass", "note": "首件合格"},
        ],
    }


def _document(client) -> dict[str, Any]:
    return client.get("/api/v1/openapi.json").get_json()


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = document
        for part in schema["$ref"][2:].split("/"):
            node = node[part]
        schema = node
    return schema


def _fields(document: dict[str, Any], schema: dict[str, Any], path: tuple = ()) -> Iterator:
    """(path, kind) for every field of `schema` that hostile values go to."""
    schema = _resolve(document, schema)
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
        yield from _fields(document, branch, path)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        for name, sub in schema.get("properties", {}).items():
            yield from _fields(document, sub, (*path, name))
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            yield (*path, ANY_KEY), "key"
            yield from _fields(document, extra, (*path, ANY_KEY))
    elif kind == "array":
        yield path, "array"
        yield from _fields(document, schema.get("items", {}), (*path, 0))
    elif kind == "string" or isinstance(schema.get("const"), str):
        yield path, {"date-time": "time", "date": "date"}.get(schema.get("format", ""), "string")
    elif kind in ("integer", "number"):
        yield path, "number"


def _locate(body: Any, path: tuple) -> tuple | None:
    """`path` made concrete in `body` (ANY_KEY: one of its keys, 0: any item), or None when
    `body` has nothing there."""
    if not path:
        return ()
    part, rest = path[0], path[1:]
    if isinstance(part, int):
        choices = list(range(len(body))) if isinstance(body, list) else []
    elif not isinstance(body, dict):
        choices = []
    else:
        choices = list(body) if part is ANY_KEY else [part] if part in body else []
    for choice in choices:
        found = _locate(body[choice], rest)
        if found is not None:
            return (choice, *found)
    return None


def _name(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _with(body: Any, path: tuple, value: Any, *, key: bool = False) -> Any:
    """A copy of `body` with the value at `path` (or, with `key`, its key) replaced."""
    body = copy.deepcopy(body)
    node = body
    for part in path[:-1]:
        node = node[part]
    if key:
        node[value] = node.pop(path[-1])
    else:
        node[path[-1]] = value
    return body


def _raw(body: Any, raw: str) -> str:
    """`body` as JSON with the slot replaced by raw JSON text (deep arrays, NaN, 1e400)."""
    return json.dumps(body).replace(json.dumps(SLOT), raw)


def _cases(document: dict[str, Any], path: str, method: str, examples: list) -> Iterator:
    """(label, raw JSON body, field the 400 must name) for one route."""
    yield "whole-body-deep", DEEP, "body"
    schema = document["paths"][path][method]["requestBody"]["content"]["application/json"]
    seen = set()
    for field_path, kind in _fields(document, schema["schema"]):
        found = [(e, p) for e in examples if (p := _locate(e, field_path)) is not None]
        assert found, f"{method} {path}: no example has {field_path}: add one"
        example, where = found[0]
        if (where, kind) in seen:
            continue
        seen.add((where, kind))
        name = _name(where)
        if kind == "key":
            parent = _name(where[:-1])
            for label, text in TEXTS.items():
                yield (
                    f"{name}:key-{label}",
                    json.dumps(_with(example, where, text, key=True)),
                    parent,
                )
        elif kind == "string":
            for label, text in TEXTS.items():
                yield f"{name}:{label}", json.dumps(_with(example, where, text)), name
        elif kind in ("time", "date"):
            for value in TIMES if kind == "time" else DATES:
                yield f"{name}:{value}", json.dumps(_with(example, where, value)), name
        elif kind == "array":
            yield f"{name}:deep", _raw(_with(example, where, SLOT), DEEP), name
        elif kind == "number":
            for value in NUMBERS:
                yield f"{name}:{value}", _raw(_with(example, where, SLOT), value), name


def _rows(session) -> dict[str, int]:
    """Rows per table."""
    session.commit()
    meta = MetaData()
    meta.reflect(session.get_bind())
    return {t.name: session.scalar(select(func.count()).select_from(t)) for t in meta.sorted_tables}


def _url(path: str, world: dict[str, Any]) -> str:
    return path.replace("{id}", str(world["change"]))


def _write_routes(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m, p) for p, ops in document["paths"].items() for m in ops if m in WRITES}


def test_every_write_route_has_examples_that_are_accepted(client, session, world):
    examples = _examples(world)
    assert _write_routes(_document(client)) == set(examples)
    for (method, path), bodies in examples.items():
        for body in bodies:
            response = client.open(_url(path, world), method=method, json=body, headers=HEADERS)
            # A retest before the owner accepted the change is 409: the body itself is fine.
            assert response.status_code in (200, 201, 409), (path, body, response.get_json())


ROUTES = ["/api/v1/tasks", "/api/v1/broadcasts", "/api/v1/surveys", "/api/v1/changes",
          "/api/v1/changes/{id}/retests"]  # fmt: skip


@pytest.mark.parametrize("route", ROUTES)
def test_hostile_values_in_any_field_are_400_naming_it_and_add_nothing(
    client, session, world, route
):
    document = _document(client)
    before = _rows(session)
    wrong = []
    for method in sorted(set(document["paths"][route]) & WRITES):
        examples = _examples(world)[(method, route)]
        for label, raw, field in _cases(document, route, method, examples):
            response = client.open(
                _url(route, world), method=method, data=raw,
                headers=HEADERS | {"Content-Type": "application/json"},
            )  # fmt: skip
            answer = response.get_json(silent=True) or {}
            if response.status_code != 400 or answer.get("field") != field:
                wrong.append((label, response.status_code, answer.get("field"), field))
    assert not wrong, "\n".join(map(repr, wrong))
    assert _rows(session) == before


def _parameterised(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path, parameter) for every path and query parameter of the document."""
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            for param in op.get("parameters", []):
                yield method, path, param


def test_hostile_path_and_query_parameters_are_400_or_404(client, session, world):
    document = _document(client)
    before = _rows(session)
    wrong, sent = [], 0
    for method, path, param in _parameterised(document):
        for value in [*HUGE_IDS, "9999-12-31", "%F0", "a" * 10_000]:
            if param["in"] == "path":
                url = path.replace("{" + param["name"] + "}", value)
            else:
                url = f"{_url(path, world)}?{param['name']}={value}"
            response = client.open(url, method=method, json={}, headers=HEADERS)
            sent += 1
            if response.status_code not in (400, 404):
                wrong.append((method, url[:80], response.status_code))
    assert sent > 0
    assert not wrong, "\n".join(map(repr, wrong))
    assert _rows(session) == before
