"""Drop-in parity with the reference (Prefect 3): code written for it runs with `prefect` ->
`inloop`. Each test names the item of issue 10 it covers."""

from __future__ import annotations

import asyncio
import inspect
import threading
import uuid
from typing import Any

import httpx
import pytest
from pydantic import Field

from inloop import flow, get_client, get_run_context
from inloop.flow_runs import (
    CannotSuspend,
    InvalidResumeInput,
    apause_flow_run,
    aresume_flow_run,
    asuspend_flow_run,
    pause_flow_run,
    pause_flow_run_async,
    resume_flow_run,
    resume_flow_run_async,
    suspend_flow_run,
    suspend_flow_run_async,
)
from inloop.input.run_input import (
    RunInput,
    asend_input,
    keyset_from_base_key,
    receive_input,
    send_input,
    send_input_async,
)
from inloop.schemas import StateType
from tests.waiting import wait_for

# Awaits @dual functions the way the seed examples do: right at run time, reported by a type
# checker (see inloop._dual), hence the `type: ignore[misc]` on those lines.

pytestmark = pytest.mark.usefixtures("server")


class Approval(RunInput):
    approved: bool = True
    note: str = Field(default="", description="Why")


class Person(RunInput):
    name: str
    size: str = "medium"


def mailbox() -> str:
    """A RUNNING flow run nobody executes, to send to and read from by id."""
    return str(get_client().create_flow_run(f"parity-{uuid.uuid4().hex[:8]}").id)


async def amailbox() -> str:
    return str((await get_client().create_flow_run(f"parity-{uuid.uuid4().hex[:8]}")).id)  # type: ignore[misc]


def paused(input_cls: type[RunInput] | None) -> Any:
    client = get_client()
    run = client.create_flow_run("parity-paused", state=StateType.RUNNING)
    return client.pause_flow_run(
        run.id, "paused-1", schema=input_cls.model_json_schema() if input_cls else None
    )


# --- item 1: receive_input(..., timeout=0) returns what is already stored ---------------------


def test_timeout_zero_returns_stored_inputs_then_ends() -> None:
    run_id = mailbox()
    for word in ("one", "two"):
        send_input(word, flow_run_id=run_id)
    quiet = receive_input(str, timeout=0, raise_timeout_error=False, flow_run_id=run_id)
    assert list(quiet) == ["one", "two"]
    handler = receive_input(str, timeout=0, flow_run_id=run_id)
    assert [handler.next(), handler.next()] == ["one", "two"]
    with pytest.raises(TimeoutError):
        handler.next()
    with pytest.raises(TimeoutError):
        receive_input(str, timeout=0, flow_run_id=mailbox()).next()


async def test_timeout_zero_async_iteration_sees_stored_inputs() -> None:
    run_id = await amailbox()
    await send_input("hello", flow_run_id=run_id)  # type: ignore[misc]
    seen = [x async for x in receive_input(str, timeout=0, raise_timeout_error=False,
                                            flow_run_id=run_id)]
    assert seen == ["hello"]


# --- item 2: the reference's explicit async names ----------------------------------------------


REFERENCE_ASYNC = [
    RunInput.asave, RunInput.aload, RunInput.arespond, RunInput.asend_to,
    asend_input, apause_flow_run, asuspend_flow_run, aresume_flow_run,
]


@pytest.mark.parametrize("fn", REFERENCE_ASYNC, ids=lambda f: f.__name__)
def test_reference_async_names_are_coroutine_functions(fn: Any) -> None:
    assert inspect.iscoroutinefunction(fn)


def test_a_prefixed_module_functions_are_the_async_twins() -> None:
    assert asend_input is send_input_async
    assert apause_flow_run is pause_flow_run_async
    assert asuspend_flow_run is suspend_flow_run_async
    assert aresume_flow_run is resume_flow_run_async


def test_async_forms_work_from_a_plain_thread_with_asyncio_run() -> None:
    created = get_client().create_flow_run(
        f"parity-{uuid.uuid4().hex[:8]}", state=StateType.RUNNING
    )
    run_id = str(created.id)
    keyset = Person.keyset_from_type()
    # The run's own process (its token) sends to itself, so respond() has a run to answer.
    as_the_run = get_client()
    as_the_run.run_token = created.run_token
    # A pause's answer is written only by answering the pause (a plain send to its -response
    # key is refused), so the keyset's answer comes from a real pause and resume.
    as_the_run.pause_flow_run(run_id, "person", schema=Person.model_json_schema())
    get_client().resume_flow_run(run_id, {"name": "ada"})

    async def main() -> tuple[Person, Any]:
        await Person.asave(keyset, flow_run_id=run_id)
        loaded = await Person.aload(keyset, flow_run_id=run_id)
        await Person(name="bo").asend_to(run_id)
        handler = receive_input(Person, timeout=5, flow_run_id=run_id)
        first = await handler.anext()
        await first.arespond("thanks")  # first was sent by no flow: refused, as for respond()
        return loaded, first

    with pytest.raises(RuntimeError, match="not sent by a flow run"):
        asyncio.run(main())

    async def reply() -> tuple[Person, str]:
        sent = await as_the_run.create_flow_run_input(run_id, "person-note-1", {"name": "ada"})  # type: ignore[misc]
        assert sent.sender == f"inloop.flow-run.{run_id}"
        loaded = Person.load_from_flow_run_input(sent)
        await loaded.arespond("thanks")  # loaded's sender is the run itself
        answer = await receive_input(str, timeout=5, flow_run_id=run_id).anext()
        return loaded, answer

    loaded, answer = asyncio.run(reply())
    assert loaded.name == "ada" and loaded.size == "medium"
    assert answer == "thanks"
    schema = get_client().read_flow_run_input(run_id, keyset["schema"])
    assert schema is not None and schema.value["title"] == "Person"


async def test_anext_raises_timeout_error_like_next() -> None:
    handler = receive_input(str, timeout=0, flow_run_id=await amailbox())
    with pytest.raises(TimeoutError, match="no StrInput input"):
        await handler.anext()


# --- item 3: errors are RuntimeErrors --------------------------------------------------------


def test_suspending_a_run_without_deployment_raises_a_runtime_error_before_asking() -> None:
    @flow
    def local() -> None:
        suspend_flow_run()

    with pytest.raises(CannotSuspend, match="has no deployment") as caught:
        local()
    assert isinstance(caught.value, RuntimeError)


def test_suspending_inside_a_subflow_raises_a_runtime_error_naming_the_parent() -> None:
    @flow
    def child() -> None:
        suspend_flow_run(wait_for_input=int)

    @flow
    def parent() -> str:
        try:
            child()
        except RuntimeError as exc:
            return f"{type(exc).__name__}: {exc}"
        return "no error"

    message = parent()
    assert message.startswith("CannotSuspend: ")
    assert "is a subflow" in message and "Suspend the parent flow" in message


def test_suspending_another_run_without_deployment_is_a_runtime_error() -> None:
    with pytest.raises(CannotSuspend, match="has no deployment"):
        suspend_flow_run(flow_run_id=mailbox())


def test_an_invalid_resume_is_a_runtime_error_carrying_the_field_errors() -> None:
    run = paused(Person)
    with pytest.raises(RuntimeError) as caught:
        resume_flow_run(run.id, {"name": 5})
    error = caught.value
    assert isinstance(error, InvalidResumeInput) and error.status_code == 422
    assert [e["loc"] for e in error.errors] == [["run_input", "name"]]
    assert "name" in str(error) and str(run.id) in str(error)
    assert get_client().read_flow_run(run.id).state.type is StateType.PAUSED


async def test_an_invalid_resume_from_async_code_is_the_same_error() -> None:
    run = await get_client().create_flow_run("parity-paused", state=StateType.RUNNING)  # type: ignore[misc]
    await get_client().pause_flow_run(run.id, "paused-1", schema=Person.model_json_schema())  # type: ignore[misc]
    with pytest.raises(InvalidResumeInput, match="field 'name' is required"):
        await aresume_flow_run(run.id)


# --- item 4 and 5: resume without input takes the defaults; a bodiless POST works -------------


@pytest.mark.parametrize("how", ["python", "python-async", "no-body", "null", "empty-object"])
def test_resume_without_input_answers_with_the_defaults(server: Any, how: str) -> None:
    run = paused(Approval)
    if how == "python":
        resume_flow_run(run.id)
    elif how == "python-async":
        asyncio.run(aresume_flow_run(run.id))
    else:
        bodies: dict[str, dict[str, Any]] = {
            "no-body": {}, "null": {"json": {"run_input": None}}, "empty-object": {"json": {}}
        }
        body = bodies[how]
        response = httpx.post(f"{server.api_url}/flow_runs/{run.id}/resume", timeout=10, **body)
        assert response.status_code == 200, response.text
    answer = get_client().read_flow_run_input(run.id, "paused-1-response")
    assert answer is not None and answer.value == {"approved": True, "note": ""}
    assert get_client().read_flow_run(run.id).state.type is StateType.RUNNING


def test_a_bodiless_post_resumes_a_pause_without_input(server: Any) -> None:
    run = paused(None)
    response = httpx.post(f"{server.api_url}/flow_runs/{run.id}/resume", timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["state"]["type"] == "RUNNING"


def test_resume_without_input_names_the_required_field_it_lacks(server: Any) -> None:
    run = paused(Person)
    response = httpx.post(f"{server.api_url}/flow_runs/{run.id}/resume", timeout=10)
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"loc": ["run_input", "name"], "msg": "field 'name' is required",
         "type": "jsonschema.required"}
    ]


def test_a_flow_paused_for_defaults_only_input_goes_on_with_them() -> None:
    @flow
    def approve() -> Approval:
        approval: Approval = pause_flow_run(wait_for_input=Approval, timeout=60)
        return approval

    result: list[Approval] = []
    thread = threading.Thread(target=lambda: result.append(approve()))
    thread.start()
    run = wait_for(lambda: next(iter(get_client().read_flow_runs(
        state=StateType.PAUSED, flow_name="approve")), None))
    resume_flow_run(run.id)
    thread.join(30)
    assert [r.model_dump() for r in result] == [{"approved": True, "note": ""}]


# --- item 6: keyset_from_type ------------------------------------------------------------------


def test_keyset_from_type_is_named_after_the_class() -> None:
    assert Person.keyset_from_type() == keyset_from_base_key("person")
    assert Approval.keyset_from_type() == {
        "response": "approval-response",
        "schema": "approval-schema",
        "description": "approval-description",
    }


# --- item 8: errors outside a flow name the function called ----------------------------------


def test_pause_outside_a_flow_names_pause_flow_run() -> None:
    with pytest.raises(RuntimeError, match=r"^pause_flow_run\(\) must be called inside a flow"):
        pause_flow_run()


def test_suspend_outside_a_flow_names_suspend_flow_run_and_the_alternative() -> None:
    with pytest.raises(RuntimeError) as caught:
        suspend_flow_run()
    assert str(caught.value).startswith("suspend_flow_run() must be called inside a flow")
    assert "flow_run_id=" in str(caught.value)


# --- item 9: TimeoutError by default (the seed's idle example), quiet end when asked -----------


async def test_receive_raises_timeout_error_by_default_and_ends_quietly_when_asked() -> None:
    @flow
    async def idle() -> list[str]:
        run_id = get_run_context().flow_run.id
        await send_input("early", flow_run_id=run_id)  # type: ignore[misc]
        heard = []
        try:
            async for word in receive_input(str, timeout=0.2):
                heard.append(word)
        except TimeoutError:
            heard.append("timed out")
        async for word in receive_input(str, timeout=0.2, raise_timeout_error=False):
            heard.append(word)
        heard.append("ended quietly")
        return heard

    assert await idle() == ["early", "timed out", "early", "ended quietly"]
