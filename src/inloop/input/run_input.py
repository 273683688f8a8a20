"""Typed input for flow runs: RunInput, and sending and receiving it while a flow runs.

Every input is a row under a unique key `{prefix}-{uuid}` on the receiving run. The prefix comes
from the input's type, so a receiver sees only inputs of its own type. A receiver pages through
its run's inputs by sequence cursor and waits on a long-poll the server answers the moment a
matching input commits; `poll_interval` only paces retries when the server cannot be reached.

With `cursor="name"` that position is also stored on the server, per run and name, so a run
executed again after a suspension reads on where it left off. An input counts as consumed when
the next one is asked for (or the iteration ends), so a process that dies while handling one
gets it again: at-least-once delivery.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
import uuid
from collections import deque
from collections.abc import Iterable
from copy import copy
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast, overload
from uuid import UUID

import httpx
import pydantic
from pydantic import BaseModel, ConfigDict, PrivateAttr, create_model

from inloop._dual import DUAL_TYPES, async_twin, dual, dual_classmethod, on_io_loop, run_sync
from inloop.client import InloopAPIError, ServerUnavailable, get_client
from inloop.context import current_flow_run
from inloop.input.types import infer_annotation, slugify, type_slug
from inloop.schemas import FlowRunInput

if TYPE_CHECKING:
    from typing import Self

__all__ = [
    "AutomaticRunInput",
    "GetInputHandler",
    "RunInput",
    "RunInputMetadata",
    "asend_input",
    "keyset_from_base_key",
    "receive_input",
    "run_input_class_for",
    "send_input",
    "send_input_async",
]

T = TypeVar("T")
R = TypeVar("R", bound="RunInput")
SENDER_PREFIX = "inloop.flow-run."
LONG_POLL_SECONDS = 30.0
# Counted in the flow run's context each time a receive waits out a positive timeout: from then
# on this execution has gone past where a replay could follow (see inloop.flow_runs).
IDLE_COUNTER = "receive-idle"
CURSOR_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")


def keyset_from_base_key(base_key: str) -> dict[str, str]:
    """The keys a pause stores under: its answer, its JSON schema, its Markdown description."""
    return {
        "response": f"{base_key}-response",
        "schema": f"{base_key}-schema",
        "description": f"{base_key}-description",
    }


@dataclasses.dataclass(frozen=True)
class RunInputMetadata:
    key: str
    sender: str | None
    receiver: UUID


def _current_run_id(flow_run_id: UUID | str | None, what: str) -> UUID:
    if flow_run_id is not None:
        return UUID(str(flow_run_id))
    context = current_flow_run()
    if context is None:
        raise RuntimeError(
            f"{what} needs a flow run: call it inside a @flow, or pass flow_run_id=..."
        )
    return context.flow_run.id


def _record_idle() -> None:
    context = current_flow_run()
    if context is not None:
        context.next_index(IDLE_COUNTER)


def _default_sender() -> str | None:
    context = current_flow_run()
    return f"{SENDER_PREFIX}{context.flow_run.id}" if context else None


class RunInput(BaseModel):
    """A pydantic model that flows send, receive and pause for. Extra fields are refused."""

    # ignored_types: the dual methods below are methods, not fields.
    model_config = ConfigDict(extra="forbid", ignored_types=DUAL_TYPES)

    _description: ClassVar[str | None] = None
    _metadata: RunInputMetadata | None = PrivateAttr(default=None)

    @property
    def metadata(self) -> RunInputMetadata:
        if self._metadata is None:
            raise AttributeError(
                f"this {type(self).__name__} was not received from a flow run, so it has no "
                "metadata (key, sender, receiver)"
            )
        return self._metadata

    # --- class-level: keys, schema, initial data -----------------------------------------------
    @classmethod
    def key_prefix(cls) -> str:
        return f"{slugify(cls.__name__)}-auto"

    @classmethod
    def description(cls) -> str | None:
        return cls._description

    @classmethod
    def with_initial_data(cls, description: str | None = None, **defaults: Any) -> type[Self]:
        """A subclass whose fields default to `defaults`, keeping their titles and help text.

        `description` is Markdown shown above the form when a run pauses for this input.
        """
        unknown = sorted(set(defaults) - set(cls.model_fields))
        if unknown:
            raise ValueError(
                f"{cls.__name__} has no field(s) {', '.join(map(repr, unknown))}; "
                f"its fields are {', '.join(cls.model_fields) or '(none)'}"
            )
        fields: dict[str, Any] = {}
        for name, value in defaults.items():
            info = copy(cls.model_fields[name])
            info.default = value
            info.default_factory = None
            fields[name] = (info.annotation, info)
        subclass: Any = create_model(  # type: ignore[call-overload]
            cls.__name__, __base__=cls, __module__=cls.__module__, **fields
        )
        subclass._description = (  # type: ignore[attr-defined]
            description if description is not None else cls._description
        )
        # create_model's declared return type differs between pydantic releases; an annotated
        # assignment states ours without a cast that one release or another calls redundant.
        result: type[Self] = subclass
        return result

    @classmethod
    def load_from_flow_run_input(cls, flow_run_input: FlowRunInput) -> Self:
        value = flow_run_input.value
        try:
            instance = cls.model_validate(value if value is not None else {})
        except pydantic.ValidationError as exc:
            raise pydantic.ValidationError.from_exception_data(
                title=f"{cls.__name__} (input key '{flow_run_input.key}')",
                line_errors=[
                    {"type": e["type"], "loc": e["loc"], "input": e["input"], "ctx": e["ctx"]}
                    if "ctx" in e
                    else {"type": e["type"], "loc": e["loc"], "input": e["input"]}
                    for e in exc.errors()
                ],  # type: ignore[misc]
            ) from None
        instance._metadata = RunInputMetadata(
            key=flow_run_input.key,
            sender=flow_run_input.sender,
            receiver=flow_run_input.flow_run_id,
        )
        return instance

    # --- saving a pause's schema and description, loading its answer ---------------------------
    @classmethod
    def keyset_from_type(cls) -> dict[str, str]:
        """The keys a pause for this class stores under, named after the class."""
        return keyset_from_base_key(slugify(cls.__name__))

    @classmethod
    async def _save(cls, keyset: dict[str, str], flow_run_id: UUID | str | None) -> None:
        run_id = _current_run_id(flow_run_id, f"{cls.__name__}.save()")
        client = get_client()
        await client.create_flow_run_input.aio(run_id, keyset["schema"], cls.model_json_schema())
        if cls._description is not None:
            await client.create_flow_run_input.aio(run_id, keyset["description"], cls._description)

    @classmethod
    async def _load(cls, keyset: dict[str, str], flow_run_id: UUID | str | None) -> Self:
        run_id = _current_run_id(flow_run_id, f"{cls.__name__}.load()")
        found = await get_client().read_flow_run_input.aio(run_id, keyset["response"])
        if found is None:
            raise KeyError(f"flow run '{run_id}' has no input under {keyset['response']!r}")
        return cls.load_from_flow_run_input(found)

    @dual_classmethod
    @classmethod
    async def save(cls, keyset: dict[str, str], flow_run_id: UUID | str | None = None) -> None:
        await cls._save(keyset, flow_run_id)

    @dual_classmethod
    @classmethod
    async def load(cls, keyset: dict[str, str], flow_run_id: UUID | str | None = None) -> Self:
        return await cls._load(keyset, flow_run_id)

    # Explicit async twins (see inloop._dual); the reference's `a*` names are the same objects.
    save_async: ClassVar = async_twin(save)
    asave: ClassVar = save_async
    load_async: ClassVar = async_twin(load)
    aload: ClassVar = load_async

    # --- messaging -----------------------------------------------------------------------------
    async def _respond(
        self, run_input: Any, sender: str | None, key_prefix: str | None
    ) -> None:
        origin = self.metadata.sender
        if not origin or not origin.startswith(SENDER_PREFIX):
            raise RuntimeError(
                f"cannot respond to input '{self.metadata.key}': it was not sent by a flow run "
                f"(sender: {origin!r}). Use send_input(value, flow_run_id=...) instead."
            )
        target = UUID(origin[len(SENDER_PREFIX):])
        await _send(as_run_input(run_input), target, sender, key_prefix)

    @dual
    async def send_to(
        self,
        flow_run_id: UUID | str,
        sender: str | None = None,
        key_prefix: str | None = None,
    ) -> None:
        await _send(self, flow_run_id, sender, key_prefix)

    @dual
    async def respond(
        self,
        run_input: Any,
        sender: str | None = None,
        key_prefix: str | None = None,
    ) -> None:
        """Send `run_input` back to the flow run that sent this input."""
        await self._respond(run_input, sender, key_prefix)

    send_to_async: ClassVar = async_twin(send_to)
    asend_to: ClassVar = send_to_async
    respond_async: ClassVar = async_twin(respond)
    arespond: ClassVar = respond_async

    @classmethod
    def receive(
        cls,
        timeout: float | None = 3600,
        poll_interval: float = 10,
        raise_timeout_error: bool = True,
        exclude_keys: Iterable[str] | None = None,
        key_prefix: str | None = None,
        flow_run_id: UUID | str | None = None,
        with_metadata: bool = True,
        *,
        cursor: str | None = None,
    ) -> GetInputHandler[Any]:
        """`receive_input(cls, ...)`: iterate this run's inputs of this class."""
        return receive_input(
            cls,
            timeout=timeout,
            poll_interval=poll_interval,
            raise_timeout_error=raise_timeout_error,
            exclude_keys=exclude_keys,
            key_prefix=key_prefix,
            flow_run_id=flow_run_id,
            with_metadata=with_metadata,
            cursor=cursor,
        )


class AutomaticRunInput(RunInput, Generic[T]):
    """The RunInput made for a plain type: one field, `value`."""

    value: T
    _annotation: ClassVar[Any] = None

    @classmethod
    def key_prefix(cls) -> str:
        return f"{type_slug(cls._annotation)}-auto"  # type_slug caches


_automatic: dict[str, type[AutomaticRunInput[Any]]] = {}
_upgraded: dict[type[BaseModel], type[RunInput]] = {}


def run_input_class_for(input_type: Any) -> type[RunInput]:
    """The RunInput class for a RunInput, a BaseModel or any annotation pydantic accepts."""
    if isinstance(input_type, type) and issubclass(input_type, RunInput):
        return input_type
    if isinstance(input_type, type) and issubclass(input_type, BaseModel):
        upgraded = _upgraded.get(input_type)
        if upgraded is None:
            # Same fields, titles, descriptions and validators: RunInput joins the bases.
            upgraded = cast(
                "type[RunInput]",
                type(
                    input_type.__name__,
                    (input_type, RunInput),
                    {"__module__": input_type.__module__},
                ),
            )
            _upgraded[input_type] = upgraded
        return upgraded
    slug = type_slug(input_type)
    automatic = _automatic.get(slug)
    if automatic is None:
        name = "".join(part.capitalize() for part in slug.split("-")) + "Input"
        automatic = create_model(  # type: ignore[call-overload]
            name, __base__=AutomaticRunInput, value=(input_type, ...)
        )
        automatic._annotation = input_type
        _automatic[slug] = automatic
    return automatic


def as_run_input(value: Any) -> RunInput:
    """Wrap a value to send: a RunInput as is, a BaseModel upgraded, anything else in `value`."""
    if isinstance(value, RunInput):
        return value
    if isinstance(value, BaseModel):
        return run_input_class_for(type(value)).model_validate(value.model_dump())
    cls = run_input_class_for(infer_annotation(value))
    return cls(value=value)  # type: ignore[call-arg]


async def _send(
    run_input: RunInput,
    flow_run_id: UUID | str,
    sender: str | None,
    key_prefix: str | None,
) -> None:
    prefix = key_prefix or type(run_input).key_prefix()
    key = f"{prefix}-{uuid.uuid4().hex}"
    await get_client().create_flow_run_input.aio(
        flow_run_id,
        key,
        run_input.model_dump(mode="json"),
        sender=sender or _default_sender(),
    )


@dual
async def send_input(
    run_input: Any,
    flow_run_id: UUID | str,
    sender: str | None = None,
    key_prefix: str | None = None,
) -> None:
    """Send a value (built-in, BaseModel or RunInput) to a flow run; it waits there until read."""
    await _send(as_run_input(run_input), flow_run_id, sender, key_prefix)


# Always a coroutine function (see inloop._dual); `asend_input` is the reference's name for it.
send_input_async = asend_input = async_twin(send_input)


class GetInputHandler(Generic[T]):
    """Iterates a run's inputs of one type, oldest first, keeping its place between calls.

    Use it with `for`, `async for`, or `.next()` (awaitable or not, by the dual-call rule).
    """

    def __init__(
        self,
        run_input_cls: type[RunInput],
        *,
        key_prefix: str | None,
        timeout: float | None,
        poll_interval: float,
        raise_timeout_error: bool,
        exclude_keys: Iterable[str] | None,
        flow_run_id: UUID | str | None,
        unwrap: bool,
        cursor: str | None = None,
    ) -> None:
        if cursor is not None and not CURSOR_NAME_PATTERN.fullmatch(cursor):
            raise ValueError(
                f"invalid cursor name {cursor!r}: use 1 to 100 lowercase letters, digits and "
                "'-', starting with a letter or digit (e.g. cursor=\"names\")"
            )
        self.run_input_cls = run_input_cls
        self.key_prefix = key_prefix or run_input_cls.key_prefix()
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.raise_timeout_error = raise_timeout_error
        # Filtered here, not sent to the server each time: the list may grow long.
        self.exclude_keys = set(exclude_keys or ())
        self.flow_run_id = _current_run_id(flow_run_id, "receive_input()")
        self.unwrap = unwrap and issubclass(run_input_cls, AutomaticRunInput)
        self._after_seq = 0
        self._buffer: deque[FlowRunInput] = deque()
        self.cursor = cursor
        self._cursor_loaded = False
        # The seq of the input handed out last, stored as consumed when the next is asked for.
        self._delivered: int | None = None

    def __iter__(self) -> GetInputHandler[T]:
        return self

    def __next__(self) -> T:
        try:
            return run_sync(self._next(quiet_end=not self.raise_timeout_error))
        except StopAsyncIteration:
            raise StopIteration from None

    def __aiter__(self) -> GetInputHandler[T]:
        return self

    async def __anext__(self) -> T:
        result: T = await on_io_loop(self._next(quiet_end=not self.raise_timeout_error))
        return result

    @dual
    async def next(self) -> T:
        """The next input; raises TimeoutError when none arrives within `timeout`."""
        return await self._next(quiet_end=False)

    next_async: ClassVar = async_twin(next)
    anext: ClassVar = next_async  # always a coroutine function (see inloop._dual)

    async def _sync_cursor(self) -> None:
        """Start from the stored position; store the last input handed out as consumed."""
        assert self.cursor is not None
        if not self._cursor_loaded:
            stored = await get_client().read_receive_cursor.aio(self.flow_run_id, self.cursor)
            self._after_seq = max(self._after_seq, stored)
            self._cursor_loaded = True
        if self._delivered is not None:
            await get_client().advance_receive_cursor.aio(
                self.flow_run_id, self.cursor, self._delivered
            )
            self._delivered = None

    async def _next(self, quiet_end: bool) -> T:
        if self.cursor is not None:
            await self._sync_cursor()
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        client = get_client()
        asked = False  # ask the server at least once, so timeout=0 still sees stored inputs
        while True:
            while self._buffer:
                item = self._buffer.popleft()
                if item.key in self.exclude_keys:
                    continue
                converted = cast(T, self._convert(item))
                if self.cursor is not None:
                    self._delivered = item.seq
                return converted
            wait = LONG_POLL_SECONDS
            if deadline is not None:
                wait = max(min(wait, deadline - time.monotonic()), 0)
                if wait <= 0 and asked:
                    if self.timeout:
                        _record_idle()
                    if quiet_end:
                        raise StopAsyncIteration
                    raise TimeoutError(
                        f"no {self.run_input_cls.__name__} input (key prefix "
                        f"'{self.key_prefix}') arrived for flow run '{self.flow_run_id}' "
                        f"within {self.timeout:g} s"
                    )
            asked = True
            try:
                found = await client.filter_flow_run_inputs.aio(
                    self.flow_run_id, prefix=self.key_prefix, after_seq=self._after_seq,
                    limit=200, wait=wait,
                )
            except (ServerUnavailable, httpx.TransportError):
                # The wake channel dropped (server restarting?): fall back to polling.
                await asyncio.sleep(self.poll_interval)
                continue
            except InloopAPIError as exc:
                if exc.status_code < 500:
                    raise
                await asyncio.sleep(self.poll_interval)  # a proxy or a stopping server
                continue
            for item in found:
                self._after_seq = max(self._after_seq, item.seq)
                self._buffer.append(item)

    def _convert(self, item: FlowRunInput) -> Any:
        instance = self.run_input_cls.load_from_flow_run_input(item)
        if self.unwrap:
            return instance.value  # type: ignore[attr-defined]
        return instance


@overload
def receive_input(
    input_type: type[R],
    timeout: float | None = ...,
    poll_interval: float = ...,
    raise_timeout_error: bool = ...,
    exclude_keys: Iterable[str] | None = ...,
    key_prefix: str | None = ...,
    flow_run_id: UUID | str | None = ...,
    with_metadata: bool = ...,
    *,
    cursor: str | None = ...,
) -> GetInputHandler[R]: ...


@overload
def receive_input(
    input_type: Any,
    timeout: float | None = ...,
    poll_interval: float = ...,
    raise_timeout_error: bool = ...,
    exclude_keys: Iterable[str] | None = ...,
    key_prefix: str | None = ...,
    flow_run_id: UUID | str | None = ...,
    with_metadata: bool = ...,
    *,
    cursor: str | None = ...,
) -> GetInputHandler[Any]: ...


def receive_input(
    input_type: Any,
    timeout: float | None = 3600,
    poll_interval: float = 10,
    raise_timeout_error: bool = True,
    exclude_keys: Iterable[str] | None = None,
    key_prefix: str | None = None,
    flow_run_id: UUID | str | None = None,
    with_metadata: bool = False,
    *,
    cursor: str | None = None,
) -> GetInputHandler[Any]:
    """Iterate the inputs sent to a flow run (this one by default) of `input_type`.

    Plain types yield plain values (or their RunInput with `with_metadata=True`); BaseModel and
    RunInput types yield RunInput instances. When `timeout` seconds pass with no new input,
    iteration raises TimeoutError, or ends quietly with `raise_timeout_error=False`.

    `cursor="name"` stores the receive position on the server for this run and name: a run
    executed again after a suspension goes on after the last input it finished with. An input
    is finished with when the next is asked for, or when the iteration ends; one whose handling
    was cut short (a crash) is delivered again.
    """
    return GetInputHandler(
        run_input_class_for(input_type),
        key_prefix=key_prefix,
        timeout=timeout,
        poll_interval=poll_interval,
        raise_timeout_error=raise_timeout_error,
        exclude_keys=exclude_keys,
        flow_run_id=flow_run_id,
        unwrap=not with_metadata,
        cursor=cursor,
    )
