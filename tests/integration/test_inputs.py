"""send_input / receive_input / respond against a real server: keys, types, iteration, timeouts."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any

import pydantic
import pytest
from pydantic import BaseModel

from inloop import engine, flow, get_client, get_run_context
from inloop.client import ObjectNotFound
from inloop.input.run_input import AutomaticRunInput, RunInput, receive_input, send_input
from inloop.schemas import FlowRunInput

# Awaits @dual functions the way the seed examples do: right at run time, reported by a type
# checker (see inloop._dual), hence the `type: ignore[misc]` on those lines.

pytestmark = pytest.mark.usefixtures("server")
UUID_HEX = "[0-9a-f]{32}"


class GreeterInput(RunInput):
    value: str


class User(BaseModel):
    name: str
    age: int


def new_run() -> str:
    """A RUNNING flow run nobody executes: a mailbox to send to and read from by id."""
    return str(get_client().create_flow_run(f"mailbox-{uuid.uuid4().hex[:8]}").id)


async def anew_run() -> str:
    run = await get_client().create_flow_run(f"mailbox-{uuid.uuid4().hex[:8]}")  # type: ignore[misc]
    return str(run.id)


def inputs_of(run_id: str) -> list[FlowRunInput]:
    return get_client().read_flow_run_inputs(run_id)


# --- keys and senders ------------------------------------------------------------------------


async def test_default_key_prefixes_and_sender_inside_a_flow() -> None:
    @flow
    async def talker() -> str:
        run_id = str(get_run_context().flow_run.id)
        await send_input("andrew", flow_run_id=run_id)  # type: ignore[misc]
        await send_input(GreeterInput(value="andrew"), flow_run_id=run_id)  # type: ignore[misc]
        await send_input(User(name="andrew", age=40), flow_run_id=run_id)  # type: ignore[misc]
        await send_input([1, 2], flow_run_id=run_id)  # type: ignore[misc]
        await send_input(["a", "b"], flow_run_id=run_id)  # type: ignore[misc]
        await send_input("custom", flow_run_id=run_id, key_prefix="my-prefix")  # type: ignore[misc]
        return run_id

    run_id = await talker()
    stored = await get_client().read_flow_run_inputs(run_id)  # type: ignore[misc]
    patterns = [
        "str-auto",
        "greeterinput-auto",
        "user-auto",
        "list-int-auto",
        "list-str-auto",
        "my-prefix",
    ]
    assert len(stored) == len(patterns)
    for item, prefix in zip(stored, patterns, strict=True):
        assert re.fullmatch(f"{prefix}-{UUID_HEX}", item.key), item.key
        assert item.sender == f"inloop.flow-run.{run_id}"
    assert [i.value for i in stored] == [
        {"value": "andrew"},
        {"value": "andrew"},
        {"name": "andrew", "age": 40},
        {"value": [1, 2]},
        {"value": ["a", "b"]},
        {"value": "custom"},
    ]


def test_sender_outside_a_flow_is_none_unless_given() -> None:
    run_id = new_run()
    send_input("anonymous", flow_run_id=run_id)
    send_input("named", flow_run_id=run_id, sender="webhook-42")
    assert [i.sender for i in inputs_of(run_id)] == [None, "webhook-42"]


def test_a_custom_key_prefix_is_read_back_with_the_same_prefix() -> None:
    run_id = new_run()
    send_input("tagged", flow_run_id=run_id, key_prefix="orders")
    send_input("untagged", flow_run_id=run_id)
    assert receive_input(str, flow_run_id=run_id, key_prefix="orders", timeout=1).next() == "tagged"
    assert receive_input(str, flow_run_id=run_id, timeout=1).next() == "untagged"


def test_list_int_and_list_str_do_not_collide() -> None:
    run_id = new_run()
    send_input(["a", "b"], flow_run_id=run_id)
    send_input([1, 2], flow_run_id=run_id)
    ints = receive_input(list[int], flow_run_id=run_id, timeout=0.3)
    strs = receive_input(list[str], flow_run_id=run_id, timeout=0.3)
    assert ints.next() == [1, 2]
    assert strs.next() == ["a", "b"]
    with pytest.raises(TimeoutError):
        ints.next()
    with pytest.raises(TimeoutError):
        strs.next()


def test_nested_annotations_reach_only_their_own_receiver() -> None:
    run_id = new_run()
    send_input([[1, 2], [3]], flow_run_id=run_id)
    send_input(["x", "y"], flow_run_id=run_id)
    nested = receive_input(list[list[int]], flow_run_id=run_id, timeout=0.3)
    assert nested.next() == [[1, 2], [3]]
    with pytest.raises(TimeoutError):
        nested.next()
    assert receive_input(list[str], flow_run_id=run_id, timeout=1).next() == ["x", "y"]


async def test_sending_a_basemodel_instance_and_receiving_its_type() -> None:
    run_id = await anew_run()
    await send_input(User(name="ada", age=36), flow_run_id=run_id)  # type: ignore[misc]
    received = await receive_input(User, flow_run_id=run_id, timeout=2).next()
    assert isinstance(received, User) and isinstance(received, RunInput)
    assert (received.name, received.age) == ("ada", 36)
    assert received.metadata.key.startswith("user-auto-")


async def test_sending_a_run_input_instance_with_send_to() -> None:
    run_id = await anew_run()
    await GreeterInput(value="via send_to").send_to(run_id)  # type: ignore[misc]
    await send_input(GreeterInput(value="via send_input"), flow_run_id=run_id)  # type: ignore[misc]
    handler = GreeterInput.receive(flow_run_id=run_id, timeout=2)
    assert [(await handler.next()).value for _ in range(2)] == ["via send_to", "via send_input"]


async def test_input_sent_before_the_flow_receives_waits_for_it() -> None:
    run_id = await anew_run()
    await send_input("early bird", flow_run_id=run_id)  # type: ignore[misc]

    @flow
    async def late_receiver() -> str:
        await asyncio.sleep(0.2)
        return await receive_input(str, timeout=2).next()

    # The runner's path: execute an existing run, as a deployment's runner does.
    result = await engine.run_flow_async(late_receiver, (), {}, flow_run_id=run_id)
    assert result == "early bird"


async def test_types_must_match() -> None:
    """The seed: a GreeterInput receiver misses a str input, which waits for receive_input(str)."""
    run_id = await anew_run()
    await send_input("plain str", flow_run_id=run_id)  # type: ignore[misc]
    with pytest.raises(TimeoutError):
        await receive_input(GreeterInput, flow_run_id=run_id, timeout=0.3).next()  # type: ignore[misc]
    assert await receive_input(str, flow_run_id=run_id, timeout=2).next() == "plain str"


def test_receive_outside_a_flow_needs_a_flow_run_id() -> None:
    with pytest.raises(RuntimeError, match="flow_run_id"):
        receive_input(str)


def test_send_to_an_unknown_run_raises_not_found() -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(ObjectNotFound, match=missing):
        send_input("anyone?", flow_run_id=missing)


# --- respond -----------------------------------------------------------------------------------


async def test_two_flow_runs_in_one_process_respond_to_each_other() -> None:
    names = ["andrew", "beatrice", "chen"]
    started: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @flow
    async def greeter() -> None:
        started.set_result(str(get_run_context().flow_run.id))
        async for name_input in receive_input(str, with_metadata=True, timeout=10):
            if name_input.value == "__EXIT__":
                return
            await name_input.respond(f"Hello, {name_input.value}!")

    @flow
    async def sender() -> list[str]:
        greeter_id = await started
        receiver = receive_input(str, timeout=10, poll_interval=0.1)
        replies = []
        for name in names:
            await send_input(name, flow_run_id=greeter_id)  # type: ignore[misc]
            replies.append(await receiver.next())
        await send_input("__EXIT__", flow_run_id=greeter_id)  # type: ignore[misc]
        return replies

    _, replies = await asyncio.gather(greeter(), sender())
    assert replies == [f"Hello, {n}!" for n in names]


async def test_respond_to_an_input_not_sent_by_a_flow_run_says_so() -> None:
    run_id = await anew_run()
    await send_input("from a script", flow_run_id=run_id)  # type: ignore[misc]
    await send_input("from a webhook", flow_run_id=run_id, sender="webhook-7")  # type: ignore[misc]
    handler = receive_input(str, flow_run_id=run_id, with_metadata=True, timeout=2)
    for expected_sender in (None, "webhook-7"):
        received = await handler.next()
        with pytest.raises(RuntimeError, match="not sent by a flow run") as info:
            await received.respond("hello?")
        assert received.metadata.key in str(info.value)
        assert repr(expected_sender) in str(info.value)


def test_a_run_input_made_locally_has_no_metadata_to_respond_with() -> None:
    with pytest.raises(AttributeError, match="not received from a flow run"):
        GreeterInput(value="x").respond("y")


# --- iteration ---------------------------------------------------------------------------------


async def test_exclude_keys_are_skipped() -> None:
    run_id = await anew_run()
    for name in ["a", "b", "c", "d"]:
        await send_input(name, flow_run_id=run_id)  # type: ignore[misc]
    keys = [i.key for i in await get_client().read_flow_run_inputs(run_id)]  # type: ignore[misc]
    seen = [
        x
        async for x in receive_input(
            str,
            flow_run_id=run_id,
            timeout=0.3,
            raise_timeout_error=False,
            exclude_keys=[keys[0], keys[2]],
        )
    ]
    assert seen == ["b", "d"]


async def test_the_iterator_keeps_its_position_across_next_calls() -> None:
    run_id = await anew_run()
    for name in ["a", "b", "c"]:
        await send_input(name, flow_run_id=run_id)  # type: ignore[misc]
    receiver = receive_input(str, flow_run_id=run_id, timeout=2)
    assert await receiver.next() == "a"
    assert await receiver.next() == "b"
    async for rest in receiver:
        assert rest == "c"
        break
    await send_input("d", flow_run_id=run_id)  # type: ignore[misc]
    assert await receiver.next() == "d"
    # A new iterator starts again from the first input.
    assert await receive_input(str, flow_run_id=run_id, timeout=2).next() == "a"


async def test_with_metadata_gives_value_and_metadata() -> None:
    run_id = await anew_run()
    await send_input("andrew", flow_run_id=run_id, sender="someone")  # type: ignore[misc]
    [stored] = await get_client().read_flow_run_inputs(run_id)  # type: ignore[misc]
    received = await receive_input(str, flow_run_id=run_id, with_metadata=True, timeout=2).next()
    assert isinstance(received, AutomaticRunInput)
    assert received.value == "andrew"
    assert received.metadata.key == stored.key
    assert received.metadata.sender == "someone"
    assert str(received.metadata.receiver) == run_id
    plain = await receive_input(str, flow_run_id=run_id, timeout=2).next()
    assert plain == "andrew"


async def test_more_inputs_than_one_page_arrive_in_order() -> None:
    run_id = await anew_run()
    client = get_client()
    # Dual calls in a loop give awaitables; a type checker sees their sync results.
    await asyncio.gather(  # type: ignore[call-overload]
        *(
            client.create_flow_run_input(run_id, f"int-auto-{i:04d}", {"value": i})
            for i in range(230)
        )
    )
    receiver = receive_input(int, flow_run_id=run_id, timeout=0.5, raise_timeout_error=False)
    got = [x async for x in receiver]
    assert sorted(got) == list(range(230))
    stored_order = [i.value["value"] for i in await client.read_flow_run_inputs(run_id)]  # type: ignore[misc]
    assert got == stored_order


# --- timeouts ------------------------------------------------------------------------------------


async def test_timeout_raises_from_async_for_and_next() -> None:
    run_id = await anew_run()
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="int-auto"):
        async for _ in receive_input(int, flow_run_id=run_id, timeout=1):
            pass
    assert 0.9 <= time.monotonic() - started < 5
    with pytest.raises(TimeoutError):
        await receive_input(int, flow_run_id=run_id, timeout=1).next()


async def test_raise_timeout_error_false_ends_async_iteration_quietly() -> None:
    run_id = await anew_run()
    await send_input(7, flow_run_id=run_id)  # type: ignore[misc]
    receiver = receive_input(int, flow_run_id=run_id, timeout=0.3, raise_timeout_error=False)
    got = [x async for x in receiver]
    assert got == [7]


def test_sync_flow_for_loop_and_next_without_await() -> None:
    """A sync flow uses `for` and `.next()` with no await; timeouts behave the same."""

    @flow
    def sync_receiver() -> dict[str, Any]:
        run_id = get_run_context().flow_run.id
        for name in ["a", "b", "c"]:
            send_input(name, flow_run_id=run_id)
        receiver = receive_input(str, timeout=1)
        first = receiver.next()
        rest = []
        try:
            for item in receiver:
                rest.append(item)
        except TimeoutError as exc:
            timed_out = str(exc)
        quiet = list(receive_input(str, timeout=0.3, raise_timeout_error=False))
        try:
            receive_input(int, timeout=1).next()
        except TimeoutError:
            next_timed_out = True
        return {
            "first": first,
            "rest": rest,
            "timed_out": timed_out,
            "quiet": quiet,
            "next_timed_out": next_timed_out,
        }

    result = sync_receiver()
    assert result["first"] == "a"
    assert result["rest"] == ["b", "c"]
    assert "str-auto" in result["timed_out"]
    assert result["quiet"] == ["a", "b", "c"]
    assert result["next_timed_out"]


# --- values the receiver's type rejects ----------------------------------------------------------


async def test_invalid_stored_value_raises_validation_error_naming_the_key_then_continues() -> None:
    run_id = await anew_run()
    client = get_client()
    bad_key = f"int-auto-{uuid.uuid4().hex}"
    await client.create_flow_run_input(run_id, bad_key, {"value": "abc"})  # type: ignore[misc]
    await send_input(5, flow_run_id=run_id)  # type: ignore[misc]

    receiver = receive_input(int, flow_run_id=run_id, timeout=1)
    with pytest.raises(pydantic.ValidationError) as info:
        await receiver.next()
    assert bad_key in str(info.value)
    assert await receiver.next() == 5

    # The same with `async for`: catch, then iterate the same handler again.
    again = receive_input(int, flow_run_id=run_id, timeout=0.3, raise_timeout_error=False)
    with pytest.raises(pydantic.ValidationError, match=bad_key):
        async for _ in again:
            pass
    assert [x async for x in again] == [5]


# --- wake, don't poll ----------------------------------------------------------------------------


async def test_a_waiting_receiver_is_woken_long_before_its_poll_interval() -> None:
    run_id = await anew_run()
    receiver = receive_input(str, flow_run_id=run_id, timeout=20, poll_interval=10)
    waiting = asyncio.ensure_future(receiver.next())
    await asyncio.sleep(0.5)  # let it reach the server and start waiting
    assert not waiting.done()
    sent_at = time.monotonic()
    await send_input("wake up", flow_run_id=run_id)  # type: ignore[misc]
    assert await asyncio.wait_for(waiting, 5) == "wake up"
    assert time.monotonic() - sent_at < 1.0
