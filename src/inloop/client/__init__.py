"""The inloop API client, used with or without `await` by the dual-call rule (see `inloop._dual`).

One module per area of the API holds its calls, each an async function of the client:
`runs` (flow runs, pause and resume, heartbeats, logs, task results), `inputs` (run inputs and
receive cursors), `deployments` (with runners and blocks), `people` (users, tokens, links, the
inbox, events), `automations` and `offers` (validate-before-resume). `InloopClient` binds them
all as its methods; `_http` is the one way to the server they share, and the client's errors.
"""

from __future__ import annotations

from inloop._dual import dual
from inloop.client import automations, deployments, inputs, offers, people, runs
from inloop.client._http import (
    RUN_OVER,
    RUN_TOKEN_HEADER,
    BaseClient,
    ConflictError,
    InloopAPIError,
    ObjectAlreadyExists,
    ObjectNotFound,
    RunOver,
    ServerUnavailable,
    WrongState,
    describe_detail,
)
from inloop.schemas import Health

__all__ = [
    "RUN_OVER",
    "RUN_TOKEN_HEADER",
    "Conflict",
    "ConflictError",
    "InloopAPIError",
    "InloopClient",
    "ObjectAlreadyExists",
    "ObjectNotFound",
    "RunOver",
    "ServerUnavailable",
    "WrongState",
    "describe_detail",
    "get_client",
]

# The name it had first, kept for user code; renamed apart from the server's own
# `inloop.server.errors.Conflict`.
Conflict = ConflictError


class InloopClient(BaseClient):
    """The inloop API. Every public method follows the dual-call rule (see `inloop._dual`)."""

    # Both context-manager forms work; the pool is shared, so there is nothing to close.
    async def __aenter__(self) -> InloopClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None

    def __enter__(self) -> InloopClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    # --- the server itself -----------------------------------------------------------------------
    @dual
    async def health(self) -> Health:
        return Health.model_validate(await self._send("GET", "/health"))

    # --- flow runs -------------------------------------------------------------------------------
    create_flow_run = runs.create_flow_run
    read_flow_run = runs.read_flow_run
    resolve_flow_run = runs.resolve_flow_run
    read_flow_runs = runs.read_flow_runs
    read_flow_run_states = runs.read_flow_run_states
    wait_for_flow_run_change = runs.wait_for_flow_run_change
    set_flow_run_state = runs.set_flow_run_state
    cancel_flow_run = runs.cancel_flow_run
    pause_flow_run = runs.pause_flow_run
    read_pause = runs.read_pause
    resume_flow_run = runs.resume_flow_run
    heartbeat = runs.heartbeat
    send_logs = runs.send_logs
    read_logs = runs.read_logs
    read_task_result = runs.read_task_result
    store_task_result = runs.store_task_result

    # --- inputs ----------------------------------------------------------------------------------
    create_flow_run_input = inputs.create_flow_run_input
    read_flow_run_input = inputs.read_flow_run_input
    filter_flow_run_inputs = inputs.filter_flow_run_inputs
    read_flow_run_inputs = inputs.read_flow_run_inputs
    read_receive_cursor = inputs.read_receive_cursor
    advance_receive_cursor = inputs.advance_receive_cursor

    # --- resume offers (validate-before-resume) --------------------------------------------------
    wait_for_resume_offers = offers.wait_for_resume_offers
    answer_resume_offer = offers.answer_resume_offer
    report_input_rejected = offers.report_input_rejected

    # --- deployments, runners and blocks ---------------------------------------------------------
    create_deployment = deployments.create_deployment
    read_deployments = deployments.read_deployments
    run_deployment_by_name = deployments.run_deployment_by_name
    claim_flow_run = deployments.claim_flow_run
    release_flow_runs = deployments.release_flow_runs
    read_block = deployments.read_block
    save_block = deployments.save_block

    # --- people ----------------------------------------------------------------------------------
    read_session = people.read_session
    create_user = people.create_user
    read_users = people.read_users
    update_user = people.update_user
    create_token = people.create_token
    read_tokens = people.read_tokens
    revoke_token = people.revoke_token
    create_resume_link = people.create_resume_link
    read_inbox = people.read_inbox
    read_events = people.read_events

    # --- automations -----------------------------------------------------------------------------
    apply_automations = automations.apply_automations
    read_automations = automations.read_automations
    read_automation = automations.read_automation
    set_automation_enabled = automations.set_automation_enabled
    delete_automation = automations.delete_automation
    read_automation_deliveries = automations.read_automation_deliveries


def get_client(api_url: str | None = None, api_key: str | None = None) -> InloopClient:
    """A client for the configured server; use it with or without `async with` / `await`."""
    return InloopClient(api_url=api_url, api_key=api_key)


# Tracebacks and reprs name the public path (`inloop.client.ObjectNotFound`), not the module a
# class happens to live in.
for _name in __all__:
    _value = globals()[_name]
    if isinstance(_value, type) or callable(_value):
        _value.__module__ = __name__
del _name, _value
