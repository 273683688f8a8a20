"""Type annotations <-> key prefixes, and the type of a value about to be sent.

A sent input's key starts with a prefix derived from its type, so only a receiver of the same
type sees it. The prefix spells out the whole annotation (`list[int]` -> `list-int`), so
`list[int]` and `list[str]` never collide. Spelling out loses structure once annotations nest
(`list[int] | str` and `list[int | str]` both read `list-int-or-str`) or hold free text
(`Literal["a-b"]`); such prefixes end with a short digest of the exact annotation.
"""

from __future__ import annotations

import functools
import hashlib
import re
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

__all__ = ["infer_annotation", "slugify", "type_slug"]

MAX_SLUG = 80


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"
    if len(slug) > MAX_SLUG:
        digest = hashlib.sha1(slug.encode()).hexdigest()[:8]
        slug = f"{slug[: MAX_SLUG - 9].rstrip('-')}-{digest}"
    return slug


def _parts(annotation: Any) -> list[str]:
    if annotation is None or annotation is type(None):
        return ["none"]
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        return _parts(args[0])
    if origin is Literal:
        return ["literal", *(str(a) for a in args)]
    if origin is Union or origin is types.UnionType:
        joined: list[str] = []
        for i, arg in enumerate(args):
            if i:
                joined.append("or")
            joined.extend(_parts(arg))
        return joined
    if origin is not None:
        name = getattr(origin, "__name__", None) or str(origin)
        return [name, *(p for arg in args if arg is not Ellipsis for p in _parts(arg))]
    if isinstance(annotation, type):
        return [annotation.__name__]
    return [str(annotation).replace("typing.", "")]


def type_slug(annotation: Any) -> str:
    """The key prefix stem for an annotation (cached: senders ask on every send)."""
    try:
        return _cached_slug(annotation)
    except TypeError:  # an unhashable annotation: work it out each time
        return _type_slug(annotation)


@functools.lru_cache(maxsize=1024)
def _cached_slug(annotation: Any) -> str:
    return _type_slug(annotation)


def _type_slug(annotation: Any) -> str:
    """`str` -> `str`, `list[int]` / `List[int]` -> `list-int`, `int | None` -> `int-or-none`."""
    slug = slugify("-".join(_parts(annotation)))
    if _spelled_out(annotation):
        return slug
    digest = hashlib.sha1(_canonical(annotation).encode()).hexdigest()[:8]
    return f"{slug[: MAX_SLUG - 9].rstrip('-')}-{digest}"


def _is_plain(annotation: Any) -> bool:
    return annotation is None or (isinstance(annotation, type) and get_origin(annotation) is None)


def _spelled_out(annotation: Any) -> bool:
    """Whether the dashed slug alone identifies `annotation`: a class, or one level of classes."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _spelled_out(get_args(annotation)[0])
    if origin is None:
        return True
    return origin is not Literal and all(_is_plain(arg) for arg in get_args(annotation))


def _canonical(annotation: Any) -> str:
    """The annotation's exact structure, the same for `List[int]` and `list[int]`."""
    if annotation is None or annotation is type(None):
        return "None"
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        return f"Annotated[{_canonical(args[0])}, {', '.join(map(repr, args[1:]))}]"
    if origin is Literal:
        return f"Literal[{', '.join(map(repr, args))}]"
    if origin is Union or origin is types.UnionType:
        return f"Union[{', '.join(map(_canonical, args))}]"
    if origin is not None:
        name = getattr(origin, "__name__", None) or str(origin)
        inner = ", ".join("..." if arg is Ellipsis else _canonical(arg) for arg in args)
        return f"{name}[{inner}]"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def infer_annotation(value: Any) -> Any:
    """The annotation a receiver would use for `value`: `[1, 2]` -> `list[int]`.

    Collections are parametrised when their items agree on one type; mixed or empty ones stay
    bare (`list`), so send them with an explicit RunInput if the receiver wants more.
    """
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        if not value:
            return tuple
        return tuple[tuple(infer_annotation(v) for v in value)]  # type: ignore[misc]
    if isinstance(value, list | set | frozenset):
        items = {_key(infer_annotation(v)) : infer_annotation(v) for v in value}
        if len(items) == 1:
            return type(value)[next(iter(items.values()))]  # type: ignore[index]
        return type(value)
    if isinstance(value, dict):
        keys = {_key(infer_annotation(k)): infer_annotation(k) for k in value}
        vals = {_key(infer_annotation(v)): infer_annotation(v) for v in value.values()}
        if len(keys) == 1 and len(vals) == 1:
            return dict[next(iter(keys.values())), next(iter(vals.values()))]  # type: ignore[misc]
        return dict
    return type(value)


def _key(annotation: Any) -> str:
    return type_slug(annotation)
