"""What every API route shares: pydantic request parsing with 400s that name the field, the text
and time types that refuse what the databases cannot store, and the OpenAPI 3.1 document built
from the same models (design §5, §16).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, StringConstraints
from pydantic import ValidationError as PydanticValidationError
from pydantic.json_schema import models_json_schema

from bot.db import ROW_ID_MAX

M = TypeVar("M", bound=BaseModel)
# Times outside this range are refused: they overflow on conversion to UTC or to the
# databases' timestamp types (0001-01-01T00:00:00+14:00, 9999-12-31T23:00:00-01:00).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MAX_BODY_DEPTH = 32
ROW_ID = re.compile(r"[0-9]{1,10}")
# The structural tokens of JSON text: strings (escapes included), brackets, commas, colons.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},:]')


class ApiError(Exception):
    """A request the API refuses: status, the field at fault (dotted, `impacts[2].module`),
    and a short English reason."""

    def __init__(self, field: str, message: str, status: int = 400):
        super().__init__(message)
        self.field, self.message, self.status = field, message, status

    def body(self) -> dict[str, str]:
        """The JSON answer (a field or value quoted from the request may hold a lone
        surrogate, which UTF-8 cannot carry: it is shown as its escape)."""
        kind = {400: "invalid", 404: "not_found", 409: "conflict"}.get(self.status, "invalid")
        return {"error": kind, "field": _printable(self.field), "message": _printable(self.message)}


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def storable_problem(value: str) -> str | None:
    """Why PostgreSQL or UTF-8 cannot hold `value` (a NUL, or a lone surrogate: a JSON
    `\\ud800` escape with no partner), or None when it can."""
    if "\x00" in value:
        return "must not contain a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text"
    return None


def _storable(value: str) -> str:
    problem = storable_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _in_range(value: datetime) -> datetime:
    if not EARLIEST <= value <= LATEST:
        raise ValueError("must be between 2000-01-01 and 2100-01-01")
    return value


def Text(max_length: int, min_length: int = 1, pattern: str | None = None) -> Any:
    """A stripped string of bounded length that the databases can store."""
    return Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=pattern
        ),
        AfterValidator(_storable),
    ]


Time = Annotated[AwareDatetime, AfterValidator(_in_range)]


class ApiModel(BaseModel):
    """Base of request and response models: unknown fields are ignored, strings are not
    coerced from numbers."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


def field_path(loc: Sequence[int | str]) -> str:
    """`('impacts', 2, 'module')` → `impacts[2].module`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _body_loc(data: Any, error: Any) -> tuple[int | str, ...]:
    """A pydantic error's location as a path through the request body: a union member's tag
    (`to.ToDepartments.departments`, `to.literal['all']`) names nothing the client sent and is
    left out; a missing field is named."""
    loc = tuple(error.get("loc", ()))
    out: list[int | str] = []
    node = data
    for i, part in enumerate(loc):
        member = isinstance(node, dict) and isinstance(part, str) and part in node
        item = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if member or item:
            out.append(part)
            node = node[part]
        elif i == len(loc) - 1 and error.get("type") == "missing":
            out.append(part)
    return tuple(out)


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of parsed JSON, stopping once past `limit`."""
    stack, deepest = [(value, 1)], 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _deep_field(raw: bytes, limit: int) -> str:
    """The field of JSON text that nests deeper than `limit`: the path to the first too-deep
    container, up to its last object member (`notify` for `{"notify": [[[…]]]}`)."""
    stack: list[list[Any]] = []  # [opening bracket, current key or index]
    expect_key = False
    for match in _TOKENS.finditer(raw.decode("utf-8", "replace")):
        token = match.group()
        if token in ("[", "{"):
            if len(stack) >= limit:
                loc = [part for _, part in stack]
                named = max((i + 1 for i, p in enumerate(loc) if isinstance(p, str)), default=0)
                return field_path(loc[:named])
            stack.append([token, 0 if token == "[" else ""])
            expect_key = token == "{"
        elif token in ("]", "}"):
            if stack:
                stack.pop()
            expect_key = False
        elif token == ",":
            if stack and stack[-1][0] == "[":
                stack[-1][1] += 1
            expect_key = bool(stack) and stack[-1][0] == "{"
        elif token == ":":
            expect_key = False
        elif expect_key and stack:
            try:
                stack[-1][1] = str(json.loads(token))
            except ValueError:
                stack[-1][1] = token.strip('"')
            expect_key = False
    return "body"


def parse_json(raw: bytes) -> Any:
    """The request body as JSON. Raises ApiError naming `body` for anything else, or the
    field that nests too deep."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise ApiError(_deep_field(raw, MAX_BODY_DEPTH), _TOO_DEEP) from None
    except ValueError:
        raise ApiError("body", "must be a JSON object") from None
    if _depth(data, MAX_BODY_DEPTH) > MAX_BODY_DEPTH:
        raise ApiError(_deep_field(raw, MAX_BODY_DEPTH), _TOO_DEEP)
    return data


_TOO_DEEP = f"nested deeper than {MAX_BODY_DEPTH} levels"


def parse_model(model: type[M], data: Any) -> M:
    """Validate parsed JSON against `model`. Raises ApiError naming the first bad field."""
    if not isinstance(data, dict):
        raise ApiError("body", "must be a JSON object")
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        errors = exc.errors(include_url=False)
        locs = [_body_loc(data, error) for error in errors]
        # The first error, or a deeper one inside the same field: of a union's members, the
        # one that got furthest into what was sent.
        best = max(
            (i for i, loc in enumerate(locs) if loc[: len(locs[0])] == locs[0]),
            key=lambda i: len(locs[i]),
        )
        message = str(errors[best].get("msg", "invalid"))
        raise ApiError(field_path(locs[best]), message) from None


def row_id(raw: str, message: str) -> int:
    """A row id from the URL path; anything no row can have (not digits, past PostgreSQL's
    integer) is 404 with `message`, like an id that does not exist."""
    if not ROW_ID.fullmatch(raw) or int(raw) > ROW_ID_MAX:
        raise ApiError("id", message, 404)
    return int(raw)


@dataclass
class Operation:
    """One documented route."""

    method: str
    path: str
    summary: str
    body: type[BaseModel] | None = None
    responses: dict[int, type[BaseModel] | None] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)  # name → description


@dataclass
class ApiDoc:
    """The routes registered on the blueprint, turned into an OpenAPI 3.1 document."""

    title: str
    version: str
    prefix: str
    operations: list[Operation] = field(default_factory=list)

    def add(self, op: Operation) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Record `op`; usable as a decorator over the view function."""
        self.operations.append(op)
        return lambda fn: fn

    def document(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document: paths from the operations, schemas from the models."""
        models = {m for op in self.operations for m in (op.body, *op.responses.values()) if m}
        models.add(ErrorOut)
        _, defs = models_json_schema(
            [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
            ref_template="#/components/schemas/{model}",
        )
        paths: dict[str, dict[str, Any]] = {}
        for op in self.operations:
            entry: dict[str, Any] = {"summary": op.summary, "responses": {}}
            if op.body is not None:
                entry["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(op.body)}},
                }
            params = [p for p in op.path.split("/") if p.startswith("{")]
            entry["parameters"] = [
                {"name": p.strip("{}"), "in": "path", "required": True, "schema": {"type": "string"}}
                for p in params
            ] + [
                {"name": name, "in": "query", "required": False, "description": text,
                 "schema": {"type": "string"}}
                for name, text in op.query.items()
            ]  # fmt: skip
            for status, model in op.responses.items():
                content = {"application/json": {"schema": _ref(model)}} if model else None
                entry["responses"][str(status)] = {"description": _STATUS.get(status, "OK")} | (
                    {"content": content} if content else {}
                )
            for status in (400, 401, 403):
                entry["responses"].setdefault(
                    str(status),
                    {"description": _STATUS[status],
                     "content": {"application/json": {"schema": _ref(ErrorOut)}}},
                )  # fmt: skip
            paths.setdefault(self.prefix + op.path, {})[op.method.lower()] = entry
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version},
            "paths": paths,
            "components": {
                "schemas": defs.get("$defs", {}),
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            },
            "security": [{"bearer": []}],
        }


class ErrorOut(ApiModel):
    """Every refusal: what kind, which field (dotted path), why."""

    error: str
    field: str
    message: str


_STATUS = {
    200: "OK",
    201: "Created",
    400: "Invalid request: `field` names what is wrong",
    401: "Missing bearer token",
    403: "Wrong bearer token",
    404: "Not found",
    409: "Conflict: the request does not fit the object's state; `field` says why",
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}
