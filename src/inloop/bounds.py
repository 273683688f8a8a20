"""The limits every input must fit, checked at the edge so no bad value reaches the database.

Each check raises ValueError with a message naming what was wrong; pydantic turns it into a 422
whose `loc` names the field. The same limits make stored rows safe to read back: a value that
breaks them (written by an older version) is cut by `readable_json` instead of failing a read.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field

__all__ = [
    "MAX_INT64",
    "MAX_JSON_DEPTH",
    "MAX_JSON_KEYS",
    "MAX_TIMESTAMP",
    "MIN_TIMESTAMP",
    "Cursor",
    "JsonObject",
    "JsonValue",
    "Text",
    "Timestamp",
    "check_json",
    "check_text",
    "readable_json",
]

# Deep enough for any real document; far below where JSON encoders give up (pydantic at 255).
MAX_JSON_DEPTH = 64
MAX_JSON_KEYS = 10_000
MAX_INT64 = 2**63 - 1
MIN_TIMESTAMP = datetime(1900, 1, 1, tzinfo=UTC)
MAX_TIMESTAMP = datetime(9999, 1, 1, tzinfo=UTC)
CUT_MARKER = f"<cut: nested deeper than {MAX_JSON_DEPTH} levels>"


def check_text(value: str, what: str = "text") -> str:
    """Refuse what no database column can hold: NUL, and lone surrogates (not UTF-8)."""
    if "\x00" in value:
        raise ValueError(
            f"{what} contains a NUL character (\\x00) at position {value.index(chr(0))}; "
            "remove it"
        )
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"{what} contains a lone surrogate {value[exc.start]!r} at position "
                f"{exc.start}, which is not valid Unicode text; send UTF-8"
            ) from None
    return value


def _where(path: list[str]) -> str:
    shown = "".join(path[:12]) + ("..." if len(path) > 12 else "")
    return f"at ${shown}"


def _check(value: Any, path: list[str]) -> None:
    if isinstance(value, str):
        check_text(value, f"string {_where(path)}")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} {_where(path)} is not a JSON number; send a finite number")
    elif isinstance(value, dict):
        if len(path) >= MAX_JSON_DEPTH:
            raise ValueError(
                f"JSON nested deeper than {MAX_JSON_DEPTH} levels {_where(path)}; flatten it"
            )
        if len(value) > MAX_JSON_KEYS:
            raise ValueError(
                f"object {_where(path)} has {len(value)} keys, more than {MAX_JSON_KEYS}"
            )
        for key, item in value.items():
            check_text(key, f"key {_where(path)}")
            path.append(f".{key}")
            _check(item, path)
            path.pop()
    elif isinstance(value, list):
        if len(path) >= MAX_JSON_DEPTH:
            raise ValueError(
                f"JSON nested deeper than {MAX_JSON_DEPTH} levels {_where(path)}; flatten it"
            )
        for index, item in enumerate(value):
            path.append(f"[{index}]")
            _check(item, path)
            path.pop()


def check_json(value: Any) -> Any:
    """Refuse JSON that could not be stored and read back on every database."""
    _check(value, [])
    return value


def _is_readable(value: Any, depth: int) -> bool:
    if isinstance(value, dict):
        return depth < MAX_JSON_DEPTH and all(_is_readable(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return depth < MAX_JSON_DEPTH and all(_is_readable(v, depth + 1) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return True


def _cut(value: Any, depth: int) -> Any:
    if isinstance(value, dict):
        if depth >= MAX_JSON_DEPTH:
            return CUT_MARKER
        return {k: _cut(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        if depth >= MAX_JSON_DEPTH:
            return CUT_MARKER
        return [_cut(v, depth + 1) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def readable_json(value: Any) -> Any:
    """A stored value as it can be served: nesting past the limit cut, NaN/Infinity as null.

    Rows written before these limits (or straight into the database) must not make every read
    that includes them fail; the value is returned unchanged when it is within the limits.
    """
    return value if _is_readable(value, 0) else _cut(value, 0)


def _timestamp(value: datetime) -> datetime:
    try:
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not MIN_TIMESTAMP <= utc < MAX_TIMESTAMP:
        raise ValueError(
            f"timestamp {value.isoformat()} is out of range; send one between "
            f"{MIN_TIMESTAMP.isoformat()} and {MAX_TIMESTAMP.isoformat()}"
        )
    return utc


# Shared field types: every request model and parameter uses these instead of bare str/Any/int.
Text = Annotated[str, AfterValidator(check_text)]
JsonValue = Annotated[Any, AfterValidator(check_json)]
JsonObject = Annotated[dict[str, Any], AfterValidator(check_json)]
Cursor = Annotated[int, Field(ge=0, le=MAX_INT64)]
Timestamp = Annotated[datetime, AfterValidator(_timestamp)]
