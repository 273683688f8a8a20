"""Event kinds are one enumeration whose values are the wire values."""

from __future__ import annotations

import json

from inloop.automations import EVENT_KINDS
from inloop.event_kinds import EventKind
from inloop.schemas import StateType


def test_every_state_a_run_enters_has_its_kind() -> None:
    for state in StateType:
        assert EventKind.entered(state.value).value == f"flow-run.{state.value.lower()}"


def test_kinds_are_their_values_on_the_wire() -> None:
    assert json.dumps({"kind": EventKind.LINK_CREATED}) == '{"kind": "link.created"}'
    # A StrEnum member equals its value, which a type checker takes for a mismatch.
    assert EventKind.FLOW_RUN_PAUSED == "flow-run.paused"  # type: ignore[comparison-overlap]


def test_automation_triggers_name_run_events() -> None:
    assert set(EVENT_KINDS) <= {kind.value for kind in EventKind}
    assert all(kind.startswith("flow-run.") for kind in EVENT_KINDS)
