"""Type annotations -> key prefixes, and the type inferred for a value about to be sent."""

from __future__ import annotations

import re
from typing import Annotated, Any, Dict, List, Literal, Optional, Tuple, Union  # noqa: UP035

import pytest
from pydantic import BaseModel

from inloop.input.run_input import (
    AutomaticRunInput,
    RunInput,
    as_run_input,
    run_input_class_for,
)
from inloop.input.types import infer_annotation, slugify, type_slug
from inloop.schemas import INPUT_KEY_PATTERN

KEY = re.compile(r"^[a-z0-9-]+$")


class GreeterInput(RunInput):
    value: str


class User(BaseModel):
    name: str
    age: int


@pytest.mark.parametrize(
    ("annotation", "slug"),
    [
        (str, "str"),
        (int, "int"),
        (float, "float"),
        (bool, "bool"),
        (list, "list"),
        (list[int], "list-int"),
        (List[int], "list-int"),  # noqa: UP006
        (list[str], "list-str"),
        (dict[str, int], "dict-str-int"),
        (Dict[str, int], "dict-str-int"),  # noqa: UP006
        (tuple[str, float], "tuple-str-float"),
        (int | None, "int-or-none"),
        (Optional[int], "int-or-none"),  # noqa: UP045
        (Union[int, str], "int-or-str"),  # noqa: UP007
        (Annotated[int, "meta"], "int"),
        (None, "none"),
        (User, "user"),
    ],
)
def test_type_slug(annotation: Any, slug: str) -> None:
    assert type_slug(annotation) == slug


@pytest.mark.parametrize(
    ("annotation", "spelled"),
    [
        (Dict[str, List[int]], "dict-str-list-int"),  # noqa: UP006
        (List[Tuple[str, float]], "list-tuple-str-float"),  # noqa: UP006
        (tuple[int, ...], "tuple-int"),
        (Literal["a", "b"], "literal-a-b"),
        (list[Annotated[int, "meta"]], "list-int"),
    ],
)
def test_nested_or_free_text_annotations_end_with_a_digest(annotation: Any, spelled: str) -> None:
    assert re.fullmatch(f"{spelled}-[0-9a-f]{{8}}", type_slug(annotation)), type_slug(annotation)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (list[int], list[str]),
        (list[int] | str, list[int | str]),
        (tuple[tuple[int], str], tuple[tuple[int, str]]),
        (tuple[int], tuple[int, ...]),
        (Literal["a-b"], Literal["a", "b"]),
        (Literal[1], Literal["1"]),
        (dict[str, list[int]], dict[str, list[str]]),
    ],
)
def test_different_annotations_never_share_a_prefix(one: Any, other: Any) -> None:
    assert type_slug(one) != type_slug(other)
    assert run_input_class_for(one) is not run_input_class_for(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (List[int], list[int]),  # noqa: UP006
        (List[List[int]], list[list[int]]),  # noqa: UP006
        (Optional[int], int | None),  # noqa: UP045
        (Tuple[int, ...], tuple[int, ...]),  # noqa: UP006
    ],
)
def test_spellings_of_the_same_annotation_share_a_prefix(one: Any, other: Any) -> None:
    assert type_slug(one) == type_slug(other)


@pytest.mark.parametrize(
    ("input_type", "prefix"),
    [
        (str, "str-auto"),
        (int, "int-auto"),
        (list[int], "list-int-auto"),
        (list[str], "list-str-auto"),
        (GreeterInput, "greeterinput-auto"),
        (User, "user-auto"),
    ],
)
def test_default_key_prefixes(input_type: Any, prefix: str) -> None:
    assert run_input_class_for(input_type).key_prefix() == prefix


def test_list_int_and_list_str_get_different_classes_and_prefixes() -> None:
    ints, strs = run_input_class_for(list[int]), run_input_class_for(list[str])
    assert ints is not strs
    assert ints.key_prefix() != strs.key_prefix()
    # ... and the same annotation always gets the same class.
    assert run_input_class_for(List[int]) is ints  # noqa: UP006


def test_a_basemodel_is_upgraded_to_a_run_input_that_is_still_the_model() -> None:
    upgraded = run_input_class_for(User)
    assert issubclass(upgraded, RunInput) and issubclass(upgraded, User)
    assert run_input_class_for(User) is upgraded
    assert upgraded.__name__ == "User"


def test_a_run_input_is_used_as_is() -> None:
    assert run_input_class_for(GreeterInput) is GreeterInput


def test_automatic_run_input_has_one_field_named_value() -> None:
    cls = run_input_class_for(str)
    assert issubclass(cls, AutomaticRunInput)
    assert list(cls.model_fields) == ["value"]
    assert cls(value="x").value == "x"  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("value", "annotation"),
    [
        ("andrew", str),
        (1, int),
        (True, bool),
        (1.5, float),
        (None, type(None)),
        ([1, 2], list[int]),
        (["a"], list[str]),
        ([], list),
        ([1, "a"], list),
        ({"a": 1}, dict[str, int]),
        ({"a": 1, "b": "x"}, dict),
        ((1, "a"), tuple[int, str]),
        ({1, 2}, set[int]),
        ([[1], [2]], list[list[int]]),
    ],
)
def test_infer_annotation(value: Any, annotation: Any) -> None:
    assert infer_annotation(value) == annotation


@pytest.mark.parametrize(
    ("value", "prefix"),
    [
        ("andrew", "str-auto"),
        ([1, 2], "list-int-auto"),
        (["a", "b"], "list-str-auto"),
        (User(name="a", age=1), "user-auto"),
        (GreeterInput(value="a"), "greeterinput-auto"),
    ],
)
def test_a_sent_value_gets_the_prefix_its_receiver_uses(value: Any, prefix: str) -> None:
    assert type(as_run_input(value)).key_prefix() == prefix


def test_as_run_input_wraps_plain_values_and_upgrades_models() -> None:
    wrapped = as_run_input(["a"])
    assert wrapped.model_dump() == {"value": ["a"]}
    user = as_run_input(User(name="ada", age=36))
    assert isinstance(user, User) and isinstance(user, RunInput)
    assert user.model_dump() == {"name": "ada", "age": 36}
    greeter = GreeterInput(value="x")
    assert as_run_input(greeter) is greeter


@pytest.mark.parametrize(
    "text", ["Hello World", "___", "", "UPPER_lower", "ünïcode", "x" * 500, "a--b", "-edge-"]
)
def test_slugify_always_yields_a_valid_key(text: str) -> None:
    slug = slugify(text)
    assert KEY.fullmatch(slug) and INPUT_KEY_PATTERN.fullmatch(slug)
    assert len(slug) <= 80


def test_long_slugs_stay_distinct() -> None:
    a = type_slug(Literal[tuple(f"option-{i}" for i in range(40))])
    b = type_slug(Literal[tuple(f"option-{i}" for i in range(41))])
    assert a != b and len(a) <= 80 and len(b) <= 80


@pytest.mark.parametrize(
    "annotation", [str, list[int], dict[str, list[int]], int | None, Literal["x y", "Z"], User]
)
def test_every_prefix_is_a_valid_key(annotation: Any) -> None:
    prefix = run_input_class_for(annotation).key_prefix()
    assert KEY.fullmatch(prefix), prefix
