"""LINE's own OpenAPI spec, compiled once per process into validators for request bodies.

The simulator must refuse what LINE refuses. The schema part of that is LINE's published
`messaging-api.yml` (vendored unchanged in `openapi/`, see its README for the commit): this module
translates its OpenAPI 3.0 schema dialect into JSON Schema 2020-12, compiles one validator per
request schema, and turns the validator's errors into LINE's error details
(`{"message": ..., "property": "messages[0].contents.body.layout"}`). The limits LINE documents but
the spec does not encode live beside it in `limits.py`.

Why a translation and jsonschema-rs:
- OpenAPI 3.0 is not JSON Schema. LINE's spec models polymorphism with a `discriminator` on a base
  schema (Message, Action, FlexComponent, Template, ...) and subtypes that `allOf` the base, with no
  `oneOf` anywhere in those trees. A plain JSON Schema validator ignores `discriminator`, and so does
  openapi-schema-validator's OAS30Validator for this pattern (tried: it accepts a text message with
  no text, an unknown message type and a box with `layout: "grid"`). The translation below turns
  each discriminator into an explicit dispatch on the type property, handles `nullable`, OAS 3.0's
  `$ref` siblings and boolean `exclusiveMinimum`, and refuses constructs it does not know, so a
  newer spec cannot be half-understood silently.
- Speed: the dispatcher pushes thousands of messages a second to the simulator on 2 cores. The
  pure-Python `jsonschema` took about 2.4 ms for a typical notice push body (measured, translated
  schema as here); jsonschema-rs (Rust, the same JSON Schema semantics, every error with its
  instance path and a structured kind) about 13 µs with the `uri` format check, and the whole
  check with the documented limits 25-45 µs: about 1% of what a push costs end to end through the
  SDK and the simulator (tests/line/test_spec.py prints the figure).
"""

from __future__ import annotations

import re
import threading
from functools import cache
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).resolve().parent / "openapi" / "messaging-api.yml"
UPSTREAM = "line/line-openapi"
UPSTREAM_COMMIT = "6e4c2a2a1b7b059ea3920456d4f88d03fd8ef0bb"

_COMPONENT_REF = "#/components/schemas/"
_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# OpenAPI-only keywords with no meaning for validation here (discriminator is handled separately).
_ANNOTATIONS = frozenset({"externalDocs", "example", "xml", "discriminator", "nullable"})
# JSON Schema keywords OpenAPI 3.0 shares; anything else in a schema object is refused.
_KNOWN = frozenset({
    "type", "properties", "required", "items", "allOf", "oneOf", "anyOf", "not", "enum",
    "additionalProperties", "maxItems", "minItems", "maxLength", "minLength", "maximum", "minimum",
    "exclusiveMaximum", "exclusiveMinimum", "pattern", "format", "default", "description", "title",
    "readOnly", "writeOnly", "deprecated", "uniqueItems", "multipleOf", "maxProperties",
    "minProperties",
}) | _ANNOTATIONS
_INT_BOUNDS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


class SpecError(ValueError):
    """The spec uses an OpenAPI construct the translation does not handle."""


# -- OpenAPI 3.0 schema objects → JSON Schema 2020-12 ----------------------------------------------

def base_name(name: str) -> str:
    """The $defs key of a discriminated schema's own properties (what its subtypes `allOf`)."""
    return f"{name}.base"


def to_json_schema(components: dict[str, dict]) -> dict:
    """`components.schemas` of an OpenAPI 3.0 document → one JSON Schema with a `$defs` entry each.

    A schema with a `discriminator` (and no oneOf/anyOf of its own) becomes a dispatch: the type
    property must be one of the mapping's keys (LINE answers an unknown `type` with 400, so the
    mapping is closed) and the value selects the mapped subtype's schema. The base's own properties
    stay available as `<Name>.base`; a subtype's `allOf: [{$ref: Base}]` points there, which is what
    the inheritance means and keeps the dispatch from recursing into itself.
    """
    bases = {name for name, schema in components.items() if _dispatches(schema)}
    defs: dict[str, Any] = {}
    for name, schema in components.items():
        where = f"components.schemas.{name}"
        if name in bases:
            defs[base_name(name)] = _schema(schema, bases, where, top=True)
            defs[name] = _dispatch(schema, components, where)
        else:
            defs[name] = _schema(schema, bases, where, top=True)
    return {"$schema": _DIALECT, "$defs": defs}


def _dispatches(schema: dict) -> bool:
    # With oneOf/anyOf beside it, a discriminator is only a hint: the oneOf already validates.
    return "discriminator" in schema and not ({"oneOf", "anyOf"} & schema.keys())


def _ref(name: str) -> dict:
    return {"$ref": f"#/$defs/{name}"}


def _ref_name(ref: str, where: str) -> str:
    if not ref.startswith(_COMPONENT_REF):
        raise SpecError(f"{where}: only local component references are supported, not {ref!r}")
    return ref[len(_COMPONENT_REF):]


def _dispatch(schema: dict, components: dict, where: str) -> dict:
    discriminator = schema["discriminator"]
    prop = discriminator.get("propertyName")
    mapping = discriminator.get("mapping")
    if not prop or not mapping:
        raise SpecError(f"{where}: a discriminator needs propertyName and an explicit mapping")
    branches = []
    for value, ref in mapping.items():
        target = _ref_name(ref, f"{where}.discriminator.mapping.{value}")
        if target not in components:
            raise SpecError(f"{where}: mapping {value!r} names a missing schema {target!r}")
        branches.append({"if": {"properties": {prop: {"const": value}}, "required": [prop]},
                         "then": _ref(target)})
    return {"type": "object", "required": [prop], "properties": {prop: {"enum": list(mapping)}},
            "allOf": branches}


def _schema(node: Any, bases: set[str], where: str, inherited: bool = False, top: bool = False) -> Any:
    if not isinstance(node, dict):
        raise SpecError(f"{where}: a schema must be an object")
    if "$ref" in node:
        # OpenAPI 3.0: properties beside a $ref are ignored.
        name = _ref_name(node["$ref"], where)
        return _ref(base_name(name) if inherited and name in bases else name)
    # Specification extensions (x-...) are annotations for code generators.
    unknown = {k for k in node.keys() - _KNOWN if not k.startswith("x-")}
    if unknown:
        raise SpecError(f"{where}: unsupported keyword(s) {sorted(unknown)}")
    if not top and _dispatches(node):
        raise SpecError(f"{where}: a discriminator is supported on component schemas only")

    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _ANNOTATIONS or key.startswith("x-"):
            continue
        if key == "properties":
            out[key] = {p: _schema(s, bases, f"{where}.{p}") for p, s in value.items()}
        elif key == "allOf":
            out[key] = [_schema(s, bases, f"{where}.allOf[{i}]", inherited=True) for i, s in enumerate(value)]
        elif key in ("oneOf", "anyOf"):
            out[key] = [_schema(s, bases, f"{where}.{key}[{i}]") for i, s in enumerate(value)]
        elif key in ("items", "not"):
            out[key] = _schema(value, bases, f"{where}.{key}")
        elif key == "additionalProperties":
            out[key] = value if isinstance(value, bool) else _schema(value, bases, f"{where}.{key}")
        elif key in ("exclusiveMinimum", "exclusiveMaximum"):
            continue  # below, with its bound
        else:
            out[key] = value

    # OpenAPI 3.0's exclusiveMinimum/Maximum are booleans qualifying minimum/maximum.
    for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if node.get(flag) is True:
            if bound not in node:
                raise SpecError(f"{where}: {flag} without {bound}")
            out[flag] = out.pop(bound)
        elif flag in node and not isinstance(node[flag], bool):
            raise SpecError(f"{where}: {flag} must be a boolean in OpenAPI 3.0")

    # int32/int64 are ranges; JSON Schema formats only ever apply to strings.
    if node.get("type") == "integer" and node.get("format") in _INT_BOUNDS:
        low, high = _INT_BOUNDS[node["format"]]
        out.setdefault("minimum", low)
        out.setdefault("maximum", high)

    if node.get("nullable") is True:
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


# -- the vendored spec -------------------------------------------------------------------------------

@cache
def load_spec() -> dict:
    """The vendored messaging-api.yml, parsed (libyaml when present: about 10x faster)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=loader)


@cache
def translated() -> dict:
    return to_json_schema(load_spec()["components"]["schemas"])


def request_schema_name(path: str, method: str = "post") -> str:
    """The component that the spec names as the JSON request body of `method path`."""
    operation = load_spec()["paths"][path][method]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return _ref_name(ref, f"paths.{path}.{method}")


def is_absolute_uri(value: str) -> bool:
    """`format: uri`: an absolute URI (RFC 3986 scheme, then no spaces or control characters).

    Deliberately lenient about the rest (LINE's own URI rules are in limits.py): a strict RFC 3986
    check would refuse an unencoded Japanese path that LINE's clients open.
    """
    return bool(_ABSOLUTE_URI.match(value))


_ABSOLUTE_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s\x00-\x1f\x7f]*\Z")

_compile_lock = threading.Lock()
_validators: dict[str, Any] = {}


def validator(schema_name: str):
    """The compiled jsonschema-rs validator for one component (compiled once, then shared)."""
    found = _validators.get(schema_name)
    if found is not None:
        return found
    with _compile_lock:
        found = _validators.get(schema_name)
        if found is None:
            import jsonschema_rs

            root = translated()
            if schema_name not in root["$defs"]:
                raise KeyError(schema_name)
            found = jsonschema_rs.Draft202012Validator(
                {**root, "$ref": f"#/$defs/{schema_name}"},
                formats={"uri": is_absolute_uri},
                validate_formats=True,
            )
            _validators[schema_name] = found
    return found


SEND_PATHS = ("/v2/bot/message/push", "/v2/bot/message/multicast", "/v2/bot/message/reply",
              "/v2/bot/message/validate/push", "/v2/bot/message/validate/multicast",
              "/v2/bot/message/validate/reply", "/v2/bot/message/validate/broadcast",
              "/v2/bot/message/validate/narrowcast")


def warm() -> None:
    """Parse the spec and compile every send path's validator now (about 0.1 s, once per process),
    so the first request a simulator answers is as fast as the others."""
    for path in SEND_PATHS:
        validator(request_schema_name(path))


# -- errors in LINE's words ----------------------------------------------------------------------

def property_path(parts) -> str:
    """['messages', 0, 'contents', 'body'] → 'messages[0].contents.body' (how LINE names a property)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def schema_errors(schema_name: str, body: Any) -> list[dict]:
    """Every way `body` breaks the spec's schema, as LINE-style details (never echoing values)."""
    check = validator(schema_name)
    if check.is_valid(body):
        return []
    root = translated()
    details: list[dict] = []
    for error in check.iter_errors(body):
        prop, message = _describe(error, root)
        details.append({"message": message, "property": prop})
    return details


def _node(root: dict, pointer) -> dict:
    node: Any = root
    for part in pointer:
        node = node[part]
    return node if isinstance(node, dict) else {}


def _between(what: str, low, high) -> str:
    if high is None:
        return f"{what} must be at least {low}"
    return f"{what} must be between {low if low is not None else 0} and {high}"


_ARTICLE = {"array": "an", "object": "an", "integer": "an"}


def _describe(error, root: dict) -> tuple[str, str]:
    kind = type(error.kind).__name__
    facts = error.kind.as_dict()
    path = list(error.instance_path)
    prop = property_path(path)
    # The failing keyword's own schema object, for the other half of a range.
    parent = _node(root, list(error.schema_path)[:-1])
    if kind == "Required":
        return property_path([*path, facts["property"]]), "must be specified"
    if kind in ("Enum", "Constant"):
        options = facts.get("options", [facts.get("expected_value")])
        listed = ", ".join("null" if o is None else str(o) for o in options)
        return prop, f"Must be one of the following values: [{listed}]"
    if kind == "Type":
        types = [t for t in facts.get("types", []) if t != "null"] or ["null"]
        if len(types) == 1:
            return prop, f"Must be {_ARTICLE.get(types[0], 'a')} {types[0]}"
        return prop, "Must be one of the following types: [" + ", ".join(types) + "]"
    if kind in ("MinItems", "MaxItems"):
        return prop, _between("Size", parent.get("minItems"), parent.get("maxItems"))
    if kind in ("MinLength", "MaxLength"):
        return prop, _between("Length", parent.get("minLength"), parent.get("maxLength"))
    if kind in ("Minimum", "Maximum", "ExclusiveMinimum", "ExclusiveMaximum"):
        low = parent.get("minimum", parent.get("exclusiveMinimum"))
        high = parent.get("maximum", parent.get("exclusiveMaximum"))
        return prop, _between("Value", low, high)
    if kind == "Format":
        return prop, "Must be a valid URI" if facts.get("format") == "uri" else f"Must be a valid {facts.get('format')}"
    if kind == "Pattern":
        return prop, f"Must match the pattern {facts.get('pattern')}"
    return prop, "Invalid value"
