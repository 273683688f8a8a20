"""The State helpers users call on `read_flow_run(...).state`."""

from __future__ import annotations

import pytest

from inloop.schemas import FINAL_STATES, State, StateType

PREDICATES = {
    StateType.SCHEDULED: "is_scheduled",
    StateType.PENDING: "is_pending",
    StateType.RUNNING: "is_running",
    StateType.PAUSED: "is_paused",
    StateType.SUSPENDED: "is_suspended",
    StateType.COMPLETED: "is_completed",
    StateType.FAILED: "is_failed",
    StateType.CRASHED: "is_crashed",
    StateType.CANCELLED: "is_cancelled",
}


@pytest.mark.parametrize("state_type", list(StateType))
def test_exactly_one_predicate_holds(state_type: StateType) -> None:
    state = State(type=state_type, name=state_type.display_name)
    for other, predicate in PREDICATES.items():
        assert getattr(state, predicate)() is (other is state_type)
    assert state.is_final() is (state_type in FINAL_STATES)


def test_display_name_and_parsing() -> None:
    assert StateType.RUNNING.display_name == "Running"
    assert StateType("PAUSED") is StateType.PAUSED
    state = State.model_validate({"type": "COMPLETED", "name": "Completed"})
    assert state.is_completed() and state.is_final()
