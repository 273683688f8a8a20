"""`validate_against_schema`: what a resume's run_input is checked with, error by error."""

from __future__ import annotations

from typing import Any

from inloop.server.store.pauses import validate_against_schema

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "age": {"type": "integer", "minimum": 0},
        "day": {"type": "string", "format": "date"},
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
    "required": ["name"],
    "additionalProperties": False,
}


def locs(errors: list[dict[str, Any]]) -> list[list[Any]]:
    return [e["loc"] for e in errors]


def test_valid_input_has_no_errors() -> None:
    assert validate_against_schema(SCHEMA, {"name": "Ada", "age": 36, "day": "2024-05-01"}) == []


def test_each_field_error_is_listed_at_its_field() -> None:
    errors = validate_against_schema(SCHEMA, {"name": "", "age": "old", "day": "someday"})
    assert locs(errors) == [["run_input", "age"], ["run_input", "day"], ["run_input", "name"]]
    by_field = {e["loc"][-1]: e for e in errors}
    assert by_field["age"]["type"] == "jsonschema.type"
    assert "'old' is not of type 'integer'" in by_field["age"]["msg"]
    assert by_field["day"]["type"] == "jsonschema.format"
    assert by_field["name"]["type"] == "jsonschema.minLength"


def test_a_missing_field_is_pointed_at() -> None:
    errors = validate_against_schema(SCHEMA, {"age": 3})
    assert errors == [
        {
            "loc": ["run_input", "name"],
            "msg": "field 'name' is required",
            "type": "jsonschema.required",
        }
    ]


def test_several_missing_fields_are_each_pointed_at() -> None:
    schema = {"type": "object", "required": ["first", "second"]}
    errors = validate_against_schema(schema, {})
    assert sorted(map(tuple, locs(errors))) == [("run_input", "first"), ("run_input", "second")]
    assert all("required" in e["msg"] for e in errors)


def test_nested_errors_carry_the_full_path() -> None:
    errors = validate_against_schema(SCHEMA, {"name": "Ada", "address": {"city": 7}})
    assert locs(errors) == [["run_input", "address", "city"]]
    errors = validate_against_schema(SCHEMA, {"name": "Ada", "address": {}})
    assert locs(errors) == [["run_input", "address", "city"]]


def test_unexpected_fields_say_what_to_do() -> None:
    [error] = validate_against_schema(SCHEMA, {"name": "Ada", "nickname": "A"})
    assert error["type"] == "jsonschema.additionalProperties"
    assert "'nickname' was unexpected" in error["msg"]
    assert "remove the unexpected field" in error["msg"]


def test_non_object_schemas() -> None:
    assert validate_against_schema({"type": "integer"}, 5) == []
    [error] = validate_against_schema({"type": "integer"}, "five")
    assert error["loc"] == ["run_input"]
    errors = validate_against_schema({"type": "array", "items": {"type": "integer"}}, [1, "x", 3])
    assert locs(errors) == [["run_input", 1]]
