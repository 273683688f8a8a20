"""Ask a person for a run's input in the terminal, one field of its JSON schema at a time.

Each answer is parsed by the field's kind (choices, yes/no, numbers, lists, JSON) and checked
against the field's own sub-schema with jsonschema before the next field is asked, so a typo is
re-asked at once instead of after the whole form.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from rich.markup import escape

from inloop.cli._output import console

__all__ = ["Field", "ask_fields", "fields_of"]

MISSING: Any = object()
TRUE_WORDS = {"y", "yes", "true", "t", "1", "on"}
FALSE_WORDS = {"n", "no", "false", "f", "0", "off"}


class Field:
    """One property of the input's schema, with its `$ref`s resolved for display and parsing."""

    def __init__(
        self, name: str, schema: dict[str, Any], root: dict[str, Any], required: bool
    ) -> None:
        self.name = name
        self.schema = schema
        self.root = root
        self.required = required
        self.resolved = _resolve(schema, root)
        self.title = str(self.resolved.get("title") or name)
        self.help = self.resolved.get("description")
        self.default = schema.get("default", self.resolved.get("default", MISSING))
        alternatives = [_resolve(s, root) for s in self.resolved.get("anyOf", [])]
        self.nullable = any(a.get("type") == "null" for a in alternatives) or _has_type(
            self.resolved, "null"
        )
        non_null = [a for a in alternatives if a.get("type") != "null"]
        # Optional[X] is anyOf [X, null]: X describes what to ask for.
        self.kind_schema = non_null[0] if len(non_null) == 1 else self.resolved
        self.choices = _choices(self.resolved, root)

    @property
    def kind(self) -> str:
        if self.choices is not None:
            return "choice"
        for kind in ("boolean", "integer", "number", "array", "object", "string"):
            if _has_type(self.kind_schema, kind):
                return kind
        return "json"

    def prompt(self) -> str:
        text = f"[bold]{escape(self.title)}[/]"
        if self.choices is not None:
            text += f" ({escape('/'.join(_show(c) for c in self.choices))})"
        elif self.kind == "boolean":
            text += " (y/n)"
        elif self.kind == "array":
            text += " (comma-separated or JSON list)"
        elif self.kind in ("object", "json"):
            text += " (JSON)"
        if self.default is not MISSING:
            if isinstance(self.default, bool) and self.kind == "boolean":
                shown = "y" if self.default else "n"
            elif self.default is None:
                shown = "none"
            else:
                shown = _show(self.default)
            text += f" [dim]\\[{escape(shown)}][/]"
        elif not self.required:
            text += " [dim](optional)[/]"
        return text + ": "

    def parse(self, answer: str) -> Any:
        """The value for an answer (MISSING to leave the field out); ValueError if invalid."""
        if answer == "":
            if self.default is not MISSING:
                return self.default
            if not self.required:
                return MISSING
            if self.nullable:
                return None
            raise ValueError("a value is required")
        candidates = self._candidates(answer)
        first_error: str | None = None
        for candidate in candidates:
            error = _first_error(self.schema, self.root, candidate)
            if error is None:
                return candidate
            first_error = first_error or error
        raise ValueError(first_error or f"{answer!r} is not a valid value")

    def _candidates(self, answer: str) -> list[Any]:
        kind = self.kind
        found: list[Any] = []
        if kind == "choice":
            assert self.choices is not None
            found += [c for c in self.choices if _show(c) == answer]
            found += [c for c in self.choices if _show(c).lower() == answer.lower()]
            if answer.isdigit() and 1 <= int(answer) <= len(self.choices):
                found.append(self.choices[int(answer) - 1])
            if not found:
                raise ValueError(
                    f"{answer!r} is not one of the choices: "
                    + ", ".join(_show(c) for c in self.choices)
                )
        elif kind == "boolean":
            word = answer.strip().lower()
            if word in TRUE_WORDS:
                found.append(True)
            elif word in FALSE_WORDS:
                found.append(False)
            else:
                raise ValueError(f"{answer!r} is not yes or no; answer y or n")
        elif kind in ("integer", "number"):
            value = _loads(answer.strip())
            if isinstance(value, bool) or not isinstance(value, int | float):
                noun = "a whole number" if kind == "integer" else "a number"
                raise ValueError(f"{answer!r} is not {noun}")
            found.append(value)
        elif kind == "array":
            found.append(self._parse_list(answer))
        elif kind == "string":
            found.append(answer)
        elif kind == "object" and _loads(answer) is MISSING:
            raise ValueError(f"{answer!r} is not valid JSON; write the object as JSON")
        # A union such as `int | str` accepts what its first kind rejected.
        value = _loads(answer)
        if value is not MISSING:
            found.append(value)
        found.append(answer)
        return found

    def _parse_list(self, answer: str) -> list[Any]:
        text = answer.strip()
        if text.startswith("["):
            value = _loads(text)
            if not isinstance(value, list):
                raise ValueError(f"{answer!r} is not a valid JSON list")
            return value
        items_schema = self.kind_schema.get("items")
        item = (
            Field("item", items_schema, self.root, True) if isinstance(items_schema, dict) else None
        )
        parts = [p.strip() for p in text.split(",")] if text else []
        if item is None:
            return [v if (v := _loads(p)) is not MISSING else p for p in parts]
        return [item.parse(part) for part in parts]


def fields_of(schema: dict[str, Any]) -> list[Field]:
    """The fields to ask for, in the schema's order (one `value` field for a non-object)."""
    resolved = _resolve(schema, schema)
    properties = resolved.get("properties")
    if not isinstance(properties, dict) or not properties:
        return []
    required = set(resolved.get("required", []))
    return [
        Field(name, sub if isinstance(sub, dict) else {}, schema, name in required)
        for name, sub in properties.items()
    ]


def ask_fields(
    fields: Iterable[Field],
    answers: dict[str, Any],
    ask: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """Ask each field until its answer is valid; store it in `answers` (which is returned)."""
    ask = ask or (lambda prompt: console().input(prompt))
    for field in fields:
        if field.help:
            console().print(f"  [dim]{escape(str(field.help))}[/]", soft_wrap=True)
        while True:
            try:
                value = field.parse(ask(field.prompt()).strip())
            except ValueError as exc:
                console().print(f"  [red]✗ {escape(str(exc))}[/]", soft_wrap=True)
                continue
            if value is MISSING:
                answers.pop(field.name, None)
            else:
                answers[field.name] = value
            break
    return answers


# --- schema helpers ----------------------------------------------------------------------------


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow local `$ref`s and single-element `allOf` (pydantic's way to add a default)."""
    seen = 0
    while seen < 20:
        seen += 1
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = root
            for part in ref[2:].split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **rest}
            continue
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
            rest = {k: v for k, v in schema.items() if k != "allOf"}
            schema = {**all_of[0], **rest}
            continue
        break
    return schema


def _has_type(schema: dict[str, Any], kind: str) -> bool:
    declared = schema.get("type")
    return declared == kind or (isinstance(declared, list) and kind in declared)


def _choices(schema: dict[str, Any], root: dict[str, Any]) -> list[Any] | None:
    """Allowed values from `enum`, `const`, or an `anyOf`/`oneOf` made only of those."""
    if isinstance(schema.get("enum"), list):
        return list(schema["enum"])
    if "const" in schema:
        return [schema["const"]]
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if not isinstance(options, list):
            continue
        found: list[Any] = []
        for option in options:
            option = _resolve(option, root)
            if option.get("type") == "null":
                continue
            sub = _choices(option, root)
            if sub is None:
                return None
            found += sub
        return found or None
    return None


def _first_error(schema: dict[str, Any], root: dict[str, Any], value: Any) -> str | None:
    from jsonschema import validators

    # Keep the root's definitions next to the field so its `$ref`s still resolve.
    document = {k: v for k, v in root.items() if k in ("$defs", "definitions", "$schema")}
    document.update(schema)
    validator_cls = validators.validator_for(root)
    validator = validator_cls(document, format_checker=validator_cls.FORMAT_CHECKER)
    error = next(iter(validator.iter_errors(value)), None)
    return None if error is None else str(error.message)


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return MISSING


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
