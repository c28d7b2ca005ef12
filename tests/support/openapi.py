"""GitHub's own OpenAPI description (@octokit/openapi, pinned in tests/fixtures), as a request checker.

The fake GitHub checks every request it receives against it, so a call the real API would
refuse (a wrong body, an unknown enum value, a path that does not exist) fails the test
suite instead of passing against a too-lenient fake. Validators compile lazily, per operation,
and the description is parsed once per process and name.

    spec = description("api.github.com")          # or "ghes-3.19" (paths under /api/v3)
    op = spec.operation("POST", "/repos/o/r/issues/7/comments")   # None: no such path
    problems = op.check(query, body) if op else ...
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from jsonschema._keywords import enum as _enum
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.validators import extend
from openapi_schema_validator import OAS30Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4

GENERATED = Path(__file__).resolve().parents[1] / "fixtures/node_modules/@octokit/openapi/generated"
DEFAULT_SPEC = "api.github.com"
SPEC_URI = "urn:github-openapi"
Json = dict[str, Any]


def _nullable_enum(validator: Any, enums: Any, instance: Any, schema: Json) -> Any:
    """GitHub's description marks `nullable` enums without listing null (and GitHub sends null)."""
    if instance is None and schema.get("nullable"):
        return
    yield from _enum(validator, enums, instance, schema)


Validator = extend(OAS30Validator, {"enum": _nullable_enum})


def _pointer(*parts: str) -> str:
    return "".join("/" + quote(p.replace("~", "~0").replace("/", "~1"), safe="~") for p in parts)


@dataclass(frozen=True)
class Operation:
    """One method on one path template: its parameters and its JSON request body schema."""

    method: str
    template: str
    params: dict[tuple[str, str], Json]       # (in, name) -> the parameter object
    body: Json | None                          # the requestBody object, if any
    spec: Description = field(repr=False, compare=False)

    def check(self, path_params: Mapping[str, str], query: Sequence[tuple[str, str]], body: Any) -> list[str]:
        """Every way this request breaks the description (empty: it is allowed)."""
        problems = [p for name, raw in path_params.items() for p in self._param("path", name, [raw])]
        names = {name for name, _ in query}
        for name in sorted(names):
            problems += self._param("query", name, [v for n, v in query if n == name])
        problems += [f"query parameter {name!r} is required" for (where, name), p in self.params.items()
                     if where == "query" and p.get("required") and name not in names]
        return problems + self._body(body)

    def _param(self, where: str, name: str, raw: list[str]) -> list[str]:
        param = self.params.get((where, name))
        if param is None:
            return [f"unknown {where} parameter {name!r}"]
        schema = param.get("schema", {})
        value = _coerce(raw, schema)
        error = best_match(self.spec.validator(_pointer(*self._where, "parameters", name, where))
                           .iter_errors(value))
        return [f"{where} parameter {name!r}={value!r}: {error.message}"] if error else []

    @property
    def _where(self) -> tuple[str, str]:
        return (self.template, self.method.lower())

    def _body(self, body: Any) -> list[str]:
        if self.body is None:
            return [] if body is None else ["this operation takes no request body"]
        if body is None:
            return ["a request body is required"] if self.body.get("required") else []
        if "application/json" not in self.body.get("content", {}):
            return []
        error = best_match(self.spec.validator(_pointer(*self._where, "body")).iter_errors(body))
        if error is None:
            return []
        return [_github_message(error)]


def _github_message(error: ValidationError) -> str:
    """GitHub's wording for the common body errors, so tests read like the real answers."""
    where = "/".join(str(p) for p in error.absolute_path)
    if error.validator == "required" and not where:
        missing = re.match(r"'([^']+)'", error.message)
        return f'"{missing.group(1) if missing else error.message}" wasn\'t supplied.'
    if error.validator == "type" and where:
        return f"For 'properties/{where}', {json.dumps(error.instance)} is not a {error.validator_value}."
    return f"body{'/' + where if where else ''}: {error.message}"


def _coerce(raw: list[str], schema: Json) -> Any:
    """Query strings as the typed values GitHub parses them into (unparseable stays a string)."""
    kind = schema.get("type")
    if kind == "array":
        items = [part for value in raw for part in value.split(",")] if len(raw) == 1 else raw
        return [_coerce([item], schema.get("items", {})) for item in items]
    value = raw[-1]
    if kind == "integer" or (kind is None and re.fullmatch(r"-?\d+", value)):
        return int(value) if re.fullmatch(r"-?\d+", value) else value
    if kind == "boolean":
        return {"true": True, "false": False}.get(value, value)
    return value


class Description:
    """One parsed OpenAPI description with its path templates indexed by segment count."""

    def __init__(self, name: str = DEFAULT_SPEC) -> None:
        path = GENERATED / f"{name}.json"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run `npm ci` in tests/fixtures (see the Makefile)")
        self.name = name
        self.doc: Json = json.loads(path.read_text())
        server = self.doc.get("servers", [{}])[0].get("url", "")
        self.prefix = "/api/v3" if server.endswith("/api/v3") else ""
        self._templates: dict[int, list[tuple[re.Pattern[str], tuple[bool, ...], str, tuple[str, ...]]]] = {}
        self._multi: list[tuple[re.Pattern[str], tuple[bool, ...], str, tuple[str, ...]]] = []
        for template in self.doc["paths"]:
            segments = template.strip("/").split("/")
            regex = "/".join("([^/]+)" if s.startswith("{") else re.escape(s) for s in segments)
            literal = tuple(not s.startswith("{") for s in segments)
            names = tuple(s[1:-1] for s in segments if s.startswith("{"))
            self._templates.setdefault(len(segments), []).append((re.compile("/" + regex), literal, template, names))
            if segments[-1][1:-1] in self._multi_segment(template):  # GitHub's `x-multi-segment`: a/b/c.yml
                wide = "/".join(["([^/]+)" if s.startswith("{") else re.escape(s) for s in segments[:-1]] + ["(.+)"])
                self._multi.append((re.compile("/" + wide), literal, template, names))
        self._validators: dict[str, Any] = {}
        self._operations: dict[tuple[str, str], Operation | None] = {}

    @cached_property
    def registry(self) -> Registry:
        return Registry().with_resource(SPEC_URI, DRAFT4.create_resource(self.doc))

    def _multi_segment(self, template: str) -> set[str]:
        """The path parameters GitHub marks `x-multi-segment` (a file's path in the Contents API): they may hold `/`."""
        return {str(p.get("name")) for op in self.doc["paths"][template].values() if isinstance(op, dict)
                for p in op.get("parameters", []) if isinstance(p, dict) and p.get("x-multi-segment")}

    def match(self, path: str) -> tuple[str, dict[str, str]] | None:
        """The most specific template for a concrete path (literal segments beat parameters)."""
        found = [(literal, template, dict(zip(names, m.groups(), strict=True)))
                 for regex, literal, template, names in self._templates.get(len(path.strip("/").split("/")), [])
                 if (m := regex.fullmatch(path))]
        if not found:
            found = [(literal, template, dict(zip(names, m.groups(), strict=True)))
                     for regex, literal, template, names in self._multi if (m := regex.fullmatch(path))]
        if not found:
            return None
        _, template, params = max(found, key=lambda f: f[0])
        return template, params

    def operation(self, method: str, template: str) -> Operation | None:
        key = (method.upper(), template)
        if key not in self._operations:
            self._operations[key] = self._operation(method, template)
        return self._operations[key]

    def _operation(self, method: str, template: str) -> Operation | None:
        op = self.doc["paths"].get(template, {}).get(method.lower())
        if op is None:
            return None
        params = {}
        for param in op.get("parameters", []):
            param = self.resolve(param)
            params[(param["in"], param["name"])] = param
        body = self.resolve(op["requestBody"]) if "requestBody" in op else None
        return Operation(method.upper(), template, params, body, self)

    def resolve(self, obj: Json) -> Json:
        """A `$ref` to #/components/... replaced by what it points at."""
        while "$ref" in obj:
            node: Any = self.doc
            for part in obj["$ref"].removeprefix("#/").split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            obj = node
        return obj

    def validator(self, key: str) -> Any:
        """The compiled validator for a parameter, a body or a response, built on first use."""
        cached = self._validators.get(key)
        if cached is None:
            cached = Validator({"$ref": SPEC_URI + "#" + self._schema_pointer(key)}, registry=self.registry)
            self._validators[key] = cached
        return cached

    def _schema_pointer(self, key: str) -> str:
        """Map our keys (template/method/{body|parameters/name/in|responses/status}) to a document pointer."""
        parts = [unquote(p).replace("~1", "/").replace("~0", "~") for p in key.split("/")[1:]]
        template, method, kind, *rest = parts
        op = self.doc["paths"][template][method]
        if kind == "body":
            base = self._ref_parts(op["requestBody"]) or ("paths", template, method, "requestBody")
            return _pointer(*base, "content", "application/json", "schema")
        if kind == "parameters":
            name, where = rest
            for i, param in enumerate(op.get("parameters", [])):
                resolved = self.resolve(param)
                if resolved["name"] == name and resolved["in"] == where:
                    base = self._ref_parts(param) or ("paths", template, method, "parameters", str(i))
                    return _pointer(*base, "schema")
        if kind == "responses":
            response = op["responses"][rest[0]]
            base = self._ref_parts(response) or ("paths", template, method, "responses", rest[0])
            return _pointer(*base, "content", "application/json", "schema")
        raise KeyError(key)

    def _ref_parts(self, obj: Json) -> tuple[str, ...]:
        ref = obj.get("$ref")
        return tuple(p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")) if ref else ()

    def response_errors(self, method: str, template: str, status: int, body: Any) -> list[str]:
        """How a response body breaks the documented schema for that status (for the fake's own tests)."""
        op = self.doc["paths"][template][method.lower()]
        if str(status) not in op["responses"]:
            return [f"status {status} is not documented for {method} {template}"]
        response = self.resolve(op["responses"][str(status)])
        if "application/json" not in response.get("content", {}):
            return []
        validator = self.validator(_pointer(template, method.lower(), "responses", str(status)))
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]


@cache
def description(name: str = DEFAULT_SPEC) -> Description:
    """The parsed description for a name such as "api.github.com" or "ghes-3.19", once per process."""
    return Description(name)
