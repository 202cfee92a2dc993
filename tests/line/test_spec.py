"""LINE's OpenAPI spec in the simulator: the OpenAPI 3.0 → JSON Schema translation, the vendored
file, and how fast a typical notice body is checked."""

from __future__ import annotations

import hashlib
import re
import statistics
import time

import jsonschema_rs
import pytest

from notifier.line.flex import notice_message
from notifier.line.sim import spec
from notifier.line.sim.validation import validate_request

OPENAPI_DIR = spec.SPEC_PATH.parent


def compile_component(components: dict, name: str):
    root = spec.to_json_schema(components)
    return jsonschema_rs.Draft202012Validator({**root, "$ref": f"#/$defs/{name}"},
                                              formats={"uri": spec.is_absolute_uri}, validate_formats=True)


def errors(validator, instance) -> list[tuple[str, str]]:
    return [(spec.property_path(e.instance_path), type(e.kind).__name__) for e in validator.iter_errors(instance)]


# A miniature of LINE's pattern: a base with a discriminator, subtypes that allOf the base.
ANIMALS = {
    "Animal": {
        "type": "object", "required": ["kind"],
        "properties": {"kind": {"type": "string"}, "name": {"type": "string", "maxLength": 5}},
        "discriminator": {"propertyName": "kind", "mapping": {
            "cat": "#/components/schemas/Cat", "dog": "#/components/schemas/Dog"}},
    },
    "Cat": {"type": "object", "required": ["lives"], "allOf": [
        {"$ref": "#/components/schemas/Animal"},
        {"type": "object", "properties": {"lives": {"type": "integer", "format": "int32"}}}]},
    "Dog": {"type": "object", "allOf": [
        {"$ref": "#/components/schemas/Animal"},
        {"type": "object", "properties": {"friend": {"$ref": "#/components/schemas/Animal"}}}]},
    "Zoo": {"type": "object", "properties": {"animals": {"type": "array", "items": {
        "$ref": "#/components/schemas/Animal"}}}},
}


def test_a_discriminator_dispatches_on_its_property_to_the_mapped_subtype():
    zoo = compile_component(ANIMALS, "Zoo")
    assert errors(zoo, {"animals": [{"kind": "cat", "lives": 9}, {"kind": "dog"}]}) == []
    # the subtype's own required field, and the base's properties through allOf
    assert errors(zoo, {"animals": [{"kind": "cat"}]}) == [("animals[0]", "Required")]
    assert errors(zoo, {"animals": [{"kind": "dog", "name": "Pochi-Hachiko"}]}) == [("animals[0].name", "MaxLength")]
    # a reference to the base from a property (not an allOf) is polymorphic again
    assert errors(zoo, {"animals": [{"kind": "dog", "friend": {"kind": "cat"}}]}) == [("animals[0].friend", "Required")]


def test_the_mapping_is_closed_and_the_type_property_required():
    zoo = compile_component(ANIMALS, "Zoo")
    assert errors(zoo, {"animals": [{"kind": "hamster"}]}) == [("animals[0].kind", "Enum")]
    assert errors(zoo, {"animals": [{"name": "x"}]}) == [("animals[0]", "Required")]


def test_int32_is_a_range():
    cat = compile_component(ANIMALS, "Cat")
    assert errors(cat, {"kind": "cat", "lives": 2**31 - 1}) == []
    assert errors(cat, {"kind": "cat", "lives": 2**31}) == [("lives", "Maximum")]


def test_nullable_admits_null_and_only_null():
    components = {"T": {"type": "object", "properties": {
        "a": {"type": "string", "nullable": True},
        "b": {"type": "string", "enum": ["x", "y"], "nullable": True},
        "c": {"type": "string"}}}}
    t = compile_component(components, "T")
    assert errors(t, {"a": None, "b": None}) == []
    assert errors(t, {"c": None}) == [("c", "Type")]
    assert errors(t, {"a": 1, "b": "z"}) == [("a", "Type"), ("b", "Enum")]


def test_ref_siblings_are_ignored_as_openapi_3_0_says():
    components = {"S": {"type": "string"},
                  "T": {"type": "object", "properties": {"s": {"$ref": "#/components/schemas/S", "maxLength": 1}}}}
    assert errors(compile_component(components, "T"), {"s": "long"}) == []


def test_boolean_exclusive_bounds_become_numbers():
    components = {"N": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 1}}
    n = compile_component(components, "N")
    assert errors(n, 0) == [("", "ExclusiveMinimum")]
    assert errors(n, 0.5) == [] and errors(n, 1) == []


def test_format_uri_wants_an_absolute_uri_without_spaces():
    assert spec.is_absolute_uri("https://example.jp/r/abc")
    assert spec.is_absolute_uri("tel:0725-41-1551")
    assert spec.is_absolute_uri("https://example.jp/お知らせ")
    assert not spec.is_absolute_uri("/r/abc")
    assert not spec.is_absolute_uri("https://example.jp/a b")
    assert not spec.is_absolute_uri("https://example.jp/\n")


@pytest.mark.parametrize("components, complaint", [
    ({"T": {"type": "object", "unevaluatedProperties": False}}, "unsupported keyword"),
    ({"T": {"type": "object", "properties": {"p": {"type": "object", "properties": {"k": {"type": "string"}},
                                                   "discriminator": {"propertyName": "k", "mapping": {}}}}}},
     "component schemas only"),
    ({"T": {"type": "object", "discriminator": {"propertyName": "k", "mapping": {
        "a": "#/components/schemas/Missing"}}}}, "missing schema"),
    ({"T": {"type": "object", "properties": {"p": {"$ref": "other.yml#/components/schemas/T"}}}}, "local component"),
    ({"T": {"type": "number", "exclusiveMinimum": 3}}, "boolean"),
])
def test_it_refuses_what_it_does_not_understand(components, complaint):
    with pytest.raises(spec.SpecError, match=complaint):
        spec.to_json_schema(components)


def test_specification_extensions_are_ignored():
    components = {"T": {"type": "string", "enum": ["a"], "x-enum-varnames": ["A"]}}
    assert errors(compile_component(components, "T"), "a") == []


# -- the vendored file -------------------------------------------------------------------------------

def test_the_vendored_spec_is_the_recorded_upstream_file_with_its_licence():
    readme = (OPENAPI_DIR / "README.md").read_text(encoding="utf-8")
    digest = hashlib.sha256(spec.SPEC_PATH.read_bytes()).hexdigest()
    assert digest in readme
    assert spec.UPSTREAM_COMMIT in readme and spec.UPSTREAM in readme
    licence = (OPENAPI_DIR / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in licence and "Version 2.0" in licence and "LINE Corp." in licence


def test_the_whole_spec_translates_and_keeps_lines_discriminators():
    defs = spec.translated()["$defs"]
    for name in ("Message", "Action", "FlexComponent", "FlexContainer", "Template", "ImagemapAction"):
        assert name in defs and spec.base_name(name) in defs
    message_types = defs["Message"]["properties"]["type"]["enum"]
    assert {"text", "flex", "template", "image", "sticker"} <= set(message_types)
    assert defs["FlexBox"]["allOf"][0] == {"$ref": "#/$defs/FlexComponent.base"}


def test_every_send_path_takes_the_schema_the_spec_names():
    assert spec.request_schema_name("/v2/bot/message/push") == "PushMessageRequest"
    assert spec.request_schema_name("/v2/bot/message/multicast") == "MulticastRequest"
    assert spec.request_schema_name("/v2/bot/message/reply") == "ReplyMessageRequest"
    for path in spec.SEND_PATHS:
        if "/validate/" in path:
            assert spec.request_schema_name(path) == "ValidateMessageRequest"


def test_errors_never_echo_the_value_sent():
    secret = "とても個人的な内容"
    body = {"to": "U" + "0" * 32, "messages": [
        {"type": "text", "text": secret * 600},
        {"type": secret},
        {"type": "flex", "altText": secret, "contents": {"type": "bubble", "body": {
            "type": "box", "layout": secret, "contents": []}}},
    ]}
    details = validate_request("/v2/bot/message/push", body)
    assert len(details) == 3
    assert secret not in repr(details)


# -- speed -------------------------------------------------------------------------------------------

def test_a_typical_notice_push_is_checked_in_well_under_a_millisecond(capsys):
    body = {"to": "U" + "0" * 32, "messages": [notice_message(
        "和泉市からのお知らせ", "児童扶養手当",
        ["ひとり親家庭などの生活の安定のための手当です。", "オンラインで申請できます。", "ご不明な点は市役所へお問い合わせください。"],
        "https://notice.example.jp/r/" + "A" * 43, "https://notice.example.jp/services/jido-fuyo",
        "和泉市からのお知らせ")]}
    assert validate_request("/v2/bot/message/push", body) == []
    rounds = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(500):
            validate_request("/v2/bot/message/push", body)
        rounds.append((time.perf_counter() - start) / 500)
    median_us = statistics.median(rounds) * 1e6
    with capsys.disabled():
        print(f"\nLINE validation of a notice push body: {median_us:.1f} µs (median of 7 x 500)")
    # The dispatcher wants thousands of pushes a second on 2 cores: the check must stay a small part.
    assert median_us < 250


def test_an_error_detail_reads_like_lines():
    details = validate_request("/v2/bot/message/push", {"to": "U" + "0" * 32, "messages": [
        {"type": "text", "text": "x", "quickReply": {"items": [{"type": "action", "action": {
            "type": "message", "label": "l", "text": "t"}}] * 14}}]})
    assert details == [{"message": "Size must be between 0 and 13", "property": "messages[0].quickReply.items"}]
    assert re.fullmatch(r"Must be one of the following values: \[horizontal, vertical, baseline\]",
                        validate_request("/v2/bot/message/validate/push", {"messages": [
                            {"type": "flex", "altText": "a", "contents": {"type": "bubble", "body": {
                                "type": "box", "layout": "grid", "contents": []}}}]})[0]["message"])
