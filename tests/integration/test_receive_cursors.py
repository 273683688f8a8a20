"""`receive_input(..., cursor="name")`: the receive position lives on the server, per run and
name; an input counts as consumed when the next one is asked for (at-least-once delivery)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from inloop import get_client
from inloop.input.run_input import RunInput, receive_input, send_input
from inloop.schemas import StateType


class Order(RunInput):
    item: str


def new_run() -> Any:
    return get_client().create_flow_run("cursor-reader", state=StateType.RUNNING).id


def drain(run_id: Any, cursor: str | None = "numbers", **kwargs: Any) -> list[Any]:
    return list(receive_input(
        int, flow_run_id=run_id, cursor=cursor, timeout=0, raise_timeout_error=False, **kwargs
    ))


def test_a_new_reader_goes_on_after_the_last_consumed_input(server: Any) -> None:
    run_id = new_run()
    for n in (1, 2, 3):
        send_input(n, flow_run_id=run_id)

    first = receive_input(int, flow_run_id=run_id, cursor="numbers", timeout=0)
    assert first.next() == 1
    assert first.next() == 2  # asking for 2 consumed 1; 2 itself is still being handled
    # This reader "dies" here. The next one gets 2 again (at-least-once), then 3.
    assert drain(run_id) == [2, 3]
    assert drain(run_id) == []  # that iteration ended cleanly, so 3 was consumed too

    send_input(4, flow_run_id=run_id)
    assert drain(run_id) == [4]
    # Other names and readers without a cursor keep their own place.
    assert drain(run_id, cursor="audit") == [1, 2, 3, 4]
    assert drain(run_id, cursor=None) == [1, 2, 3, 4]


def test_a_cursor_works_with_metadata_models_exclude_keys_and_async_for(server: Any) -> None:
    run_id = new_run()
    for item in ("tea", "cake", "jam"):
        send_input(Order(item=item), flow_run_id=run_id)
    keys = {o.item: o.metadata.key for o in Order.receive(flow_run_id=run_id, timeout=0,
                                                            raise_timeout_error=False)}

    async def read_orders(limit: int | None = None) -> list[str]:
        seen = []
        async for order in receive_input(
            Order, flow_run_id=run_id, cursor="orders", timeout=0, raise_timeout_error=False,
            exclude_keys=[keys["cake"]], poll_interval=0.1, with_metadata=True,
        ):
            assert order.metadata.receiver == run_id
            seen.append(order.item)
            if limit is not None and len(seen) == limit:
                break  # left mid-item: "tea" stays unconsumed
        return seen

    assert asyncio.run(read_orders(limit=1)) == ["tea"]
    assert asyncio.run(read_orders()) == ["tea", "jam"]
    assert asyncio.run(read_orders()) == []

    # A plain type with metadata, through the sync .next() and a positive timeout.
    send_input("hello", flow_run_id=run_id)
    reader = receive_input(str, flow_run_id=run_id, cursor="words", timeout=0.5,
                           with_metadata=True)
    assert reader.next().value == "hello"
    with pytest.raises(TimeoutError):
        reader.next()  # asking again consumed "hello" before timing out
    assert list(receive_input(str, flow_run_id=run_id, cursor="words", timeout=0,
                              raise_timeout_error=False)) == []


def test_bad_cursor_names_are_refused_and_a_cursor_never_moves_back(server: Any) -> None:
    run_id = new_run()
    with pytest.raises(ValueError, match="invalid cursor name 'Bad Name'"):
        receive_input(int, flow_run_id=run_id, cursor="Bad Name")

    url = f"{server.api_url}/flow_runs/{run_id}/cursors"
    refused = httpx.put(f"{url}/UPPER", json={"after_seq": 5}, timeout=30)
    assert refused.status_code == 422
    assert "invalid cursor name 'UPPER'" in refused.text
    assert httpx.get(f"{url}/fresh", timeout=30).json()["after_seq"] == 0
    assert httpx.put(f"{url}/fresh", json={"after_seq": 9}, timeout=30).json()["after_seq"] == 9
    # A late write from an older execution cannot wind it back.
    assert httpx.put(f"{url}/fresh", json={"after_seq": 4}, timeout=30).json()["after_seq"] == 9
    missing = httpx.get(
        f"{server.api_url}/flow_runs/00000000-0000-0000-0000-000000000000/cursors/x", timeout=30
    )
    assert missing.status_code == 404
