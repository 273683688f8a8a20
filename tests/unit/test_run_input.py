"""RunInput and the classes pause_flow_run makes from what it is given (no server needed)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any, Literal, Optional

import pydantic
import pytest
from pydantic import BaseModel, Field

from inloop.input import RunInput
from inloop.input.run_input import AutomaticRunInput, keyset_from_base_key, run_input_class_for
from inloop.schemas import FlowRunInput


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


class User(BaseModel):
    name: str = Field(title="Your name", description="What should we call you?")
    age: int = Field(description="Just a number, nothing more.")

    @pydantic.field_validator("age")
    @classmethod
    def not_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("age cannot be negative")
        return value


class UserInput(RunInput):
    name: str = Field(title="Name", description="What should we call you?")
    age: int = Field(title="Age", description="Just a number, nothing more.")


class ShirtOrder(RunInput):
    size: Literal["small", "medium", "large", "xlarge"]
    color: Literal["red", "green", "black"]

    @pydantic.model_validator(mode="after")
    def validate_age(self) -> ShirtOrder:
        if self.color == "green" and self.size == "small":
            raise ValueError("Green is only in-stock for medium, large, and XL sizes.")
        return self


def stored(key: str, value: Any, sender: str | None = None) -> FlowRunInput:
    return FlowRunInput(
        flow_run_id=uuid.uuid4(), key=key, value=value, sender=sender,
        created=datetime.now(UTC), seq=1,
    )


# --- built-in types and annotations: one field, `value` ----------------------------------------


@pytest.mark.parametrize(
    ("annotation", "good", "bad", "json_type"),
    [
        (str, "andrew", 3, {"type": "string"}),
        (int, 42, "forty-two", {"type": "integer"}),
        (list[int], [1, 2, 3], ["one"], {"type": "array", "items": {"type": "integer"}}),
        (Optional[int], None, "x", {"anyOf": [{"type": "integer"}, {"type": "null"}]}),  # noqa: UP045
        (Literal["yes", "no"], "yes", "maybe", {"enum": ["yes", "no"], "type": "string"}),
    ],
    ids=["str", "int", "list-int", "optional-int", "literal"],
)
def test_a_plain_annotation_becomes_a_run_input_with_one_field_value(
    annotation: Any, good: Any, bad: Any, json_type: dict[str, Any]
) -> None:
    cls = run_input_class_for(annotation)
    assert issubclass(cls, RunInput)
    assert issubclass(cls, AutomaticRunInput)
    assert list(cls.model_fields) == ["value"]
    assert cls(value=good).value == good  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError):
        cls(value=bad)  # type: ignore[call-arg]
    schema = cls.model_json_schema()
    assert schema["required"] == ["value"]
    assert schema["additionalProperties"] is False
    property_ = {k: v for k, v in schema["properties"]["value"].items() if k != "title"}
    assert property_ == json_type


def test_a_dataclass_becomes_a_run_input_with_one_field_value() -> None:
    cls = run_input_class_for(Point)
    assert list(cls.model_fields) == ["value"]
    assert cls.model_validate({"value": {"x": 1}}).value == Point(x=1, y=0)  # type: ignore[attr-defined]
    with pytest.raises(pydantic.ValidationError):
        cls.model_validate({"value": {"y": 1}})
    schema = cls.model_json_schema()
    assert schema["$defs"]["Point"]["required"] == ["x"]


def test_the_same_annotation_gives_the_same_class_and_different_ones_do_not_collide() -> None:
    assert run_input_class_for(list[int]) is run_input_class_for(list[int])
    assert run_input_class_for(list[int]) is not run_input_class_for(list[str])
    ints, strs = run_input_class_for(list[int]), run_input_class_for(list[str])
    assert ints.key_prefix() != strs.key_prefix()
    assert run_input_class_for(str).key_prefix() == "str-auto"
    assert run_input_class_for(list[int]).key_prefix() == "list-int-auto"


# --- BaseModel: upgraded, same fields, titles, descriptions, validators ------------------------


def test_a_base_model_is_upgraded_with_its_fields_titles_descriptions_and_validators() -> None:
    cls = run_input_class_for(User)
    assert issubclass(cls, RunInput)
    assert issubclass(cls, User)
    assert cls.__name__ == "User"
    assert list(cls.model_fields) == ["name", "age"]
    props = cls.model_json_schema()["properties"]
    assert props["name"]["title"] == "Your name"
    assert props["name"]["description"] == "What should we call you?"
    assert props["age"]["description"] == "Just a number, nothing more."
    assert cls.model_json_schema()["required"] == ["name", "age"]
    with pytest.raises(pydantic.ValidationError, match="age cannot be negative"):
        cls(name="andrew", age=-1)
    user = cls(name="andrew", age=30)
    assert isinstance(user, User)
    assert user.name == "andrew"
    assert run_input_class_for(User) is cls


def test_a_run_input_is_used_as_is() -> None:
    assert run_input_class_for(UserInput) is UserInput
    assert run_input_class_for(ShirtOrder) is ShirtOrder


@pytest.mark.parametrize("input_type", [UserInput, User, str], ids=["RunInput", "BaseModel", "str"])
def test_extra_fields_are_forbidden(input_type: Any) -> None:
    cls = run_input_class_for(input_type)
    good = {"value": "x"} if input_type is str else {"name": "andrew", "age": 30}
    cls.model_validate(good)
    with pytest.raises(pydantic.ValidationError) as info:
        cls.model_validate({**good, "shoe_size": 44})
    assert [e["type"] for e in info.value.errors()] == ["extra_forbidden"]
    assert cls.model_json_schema()["additionalProperties"] is False


def test_a_custom_model_validator_runs_on_load_and_names_the_pause_key() -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        ShirtOrder.load_from_flow_run_input(
            stored("paused-1-response", {"size": "small", "color": "green"})
        )
    text = str(info.value)
    assert "Green is only in-stock" in text
    assert "paused-1" in text
    order = ShirtOrder.load_from_flow_run_input(
        stored("paused-2-response", {"size": "small", "color": "red"}, sender="ada@host")
    )
    assert (order.size, order.color) == ("small", "red")
    assert order.metadata.key == "paused-2-response"
    assert order.metadata.sender == "ada@host"


def test_metadata_is_absent_on_a_model_made_in_code() -> None:
    with pytest.raises(AttributeError, match="not received from a flow run"):
        UserInput(name="a", age=1).metadata  # noqa: B018


# --- with_initial_data -------------------------------------------------------------------------


def test_with_initial_data_sets_defaults_and_keeps_titles_and_descriptions() -> None:
    cls = UserInput.with_initial_data(name="anonymous")
    schema = cls.model_json_schema()
    name = schema["properties"]["name"]
    assert name["default"] == "anonymous"
    assert name["title"] == "Name"
    assert name["description"] == "What should we call you?"
    age = schema["properties"]["age"]
    assert age["title"] == "Age"
    assert age["description"] == "Just a number, nothing more."
    assert schema["required"] == ["age"]
    assert cls(age=3).name == "anonymous"  # type: ignore[call-arg]
    assert issubclass(cls, UserInput)
    # The original class is untouched.
    assert "default" not in UserInput.model_json_schema()["properties"]["name"]
    assert UserInput.model_json_schema()["required"] == ["name", "age"]


def test_with_initial_data_stores_the_markdown_description() -> None:
    markdown = "**Welcome!**\n\n- **Name**: What should we call you?\n"
    cls = UserInput.with_initial_data(description=markdown, name="anonymous")
    assert cls.description() == markdown
    assert UserInput.description() is None
    # A second call without a description keeps the first one's.
    assert cls.with_initial_data(age=7).description() == markdown


def test_with_initial_data_keeps_validators_and_forbids_extra_fields() -> None:
    cls = ShirtOrder.with_initial_data(size="small")
    assert cls.model_json_schema()["properties"]["size"]["default"] == "small"
    with pytest.raises(pydantic.ValidationError, match="Green is only in-stock"):
        cls(color="green")  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError):
        cls.model_validate({"color": "red", "extra": 1})
    assert cls(color="red").size == "small"  # type: ignore[call-arg]


def test_with_initial_data_on_an_upgraded_base_model() -> None:
    cls = run_input_class_for(User).with_initial_data(name="anonymous")
    name = cls.model_json_schema()["properties"]["name"]
    assert (name["default"], name["title"]) == ("anonymous", "Your name")
    with pytest.raises(pydantic.ValidationError, match="age cannot be negative"):
        cls(age=-1)  # type: ignore[call-arg]


def test_with_initial_data_names_an_unknown_field() -> None:
    with pytest.raises(ValueError, match=r"no field\(s\) 'nickname'.*name, age"):
        UserInput.with_initial_data(nickname="x")


def test_pause_keys_have_schema_description_and_response_suffixes() -> None:
    assert keyset_from_base_key("paused-1") == {
        "response": "paused-1-response",
        "schema": "paused-1-schema",
        "description": "paused-1-description",
    }
