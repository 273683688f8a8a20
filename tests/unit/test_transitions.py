"""The state machine the server enforces (`ALLOWED` in server/store/runs.py)."""

from __future__ import annotations

import pytest

from inloop.schemas import FINAL_STATES, WAITING_STATES, StateType
from inloop.server.store.runs import ALLOWED

S = StateType


def test_every_state_has_a_row() -> None:
    assert set(ALLOWED) == set(StateType)
    for targets in ALLOWED.values():
        assert targets <= set(StateType)


def test_final_states_are_final() -> None:
    assert {S.COMPLETED, S.FAILED, S.CRASHED, S.CANCELLED} == FINAL_STATES
    for state in FINAL_STATES:
        assert ALLOWED[state] == frozenset()


def test_no_state_moves_to_itself() -> None:
    for state, targets in ALLOWED.items():
        assert state not in targets


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (S.SCHEDULED, S.PENDING),
        (S.SCHEDULED, S.RUNNING),
        (S.PENDING, S.RUNNING),
        (S.RUNNING, S.COMPLETED),
        (S.RUNNING, S.FAILED),
        (S.RUNNING, S.PAUSED),
        (S.RUNNING, S.SUSPENDED),
        (S.RUNNING, S.CANCELLED),
        (S.PAUSED, S.RUNNING),  # resumed in place
        (S.PAUSED, S.SUSPENDED),
        (S.PAUSED, S.FAILED),  # timed out
        (S.SUSPENDED, S.SCHEDULED),  # resumed: the runner executes it again
        (S.SUSPENDED, S.CANCELLED),
    ],
)
def test_allowed(current: StateType, new: StateType) -> None:
    assert new in ALLOWED[current]


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (S.PENDING, S.COMPLETED),
        (S.SCHEDULED, S.COMPLETED),
        (S.RUNNING, S.SCHEDULED),
        (S.RUNNING, S.PENDING),
        (S.SUSPENDED, S.RUNNING),  # a suspended run has no process to continue in
        (S.SUSPENDED, S.PAUSED),
        (S.PAUSED, S.COMPLETED),
        (S.COMPLETED, S.RUNNING),
        (S.FAILED, S.RUNNING),
        (S.CANCELLED, S.SCHEDULED),
    ],
)
def test_refused(current: StateType, new: StateType) -> None:
    assert new not in ALLOWED[current]


def test_waiting_states_are_left_only_by_resume_or_an_end() -> None:
    for state in WAITING_STATES:
        assert ALLOWED[state] - FINAL_STATES <= {S.RUNNING, S.SCHEDULED, S.SUSPENDED}


def test_every_state_is_reachable_from_a_new_run() -> None:
    reached = {S.SCHEDULED, S.PENDING}
    frontier = list(reached)
    while frontier:
        for nxt in ALLOWED[frontier.pop()]:
            if nxt not in reached:
                reached.add(nxt)
                frontier.append(nxt)
    assert reached == set(StateType)
