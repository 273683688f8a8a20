"""The answer rules without a server: each rule, and the messages that name it. (Every rule is
also exercised through a real server in tests/e2e/test_answer_rules.py.)"""

from __future__ import annotations

import re

import pytest

from inloop.assignees import check_assignees
from inloop.flow_runs import pause_flow_run, suspend_flow_run
from inloop.server.access import Answerer, PauseRules, refusal

FAY = Answerer("fay", "fay", ("finance",), "responder")
RICK = Answerer("rick", "rick", ("ops",), "responder")
OLIVE = Answerer("olive", "olive", ("ops",), "operator")
ROOT = Answerer("root", "root", (), "admin")
LINK = Answerer("link:bea", "bea", (), "responder")


def rule(answerer: Answerer, pause: PauseRules, users_mode: bool = True) -> str | None:
    found = refusal(answerer, pause, users_mode=users_mode)
    return found[0] if found else None


def test_assignees_admit_listed_users_and_groups_and_admins() -> None:
    pause = PauseRules(["group:finance", "bea"], True, "olive")
    assert rule(FAY, pause) is None
    assert rule(LINK, pause) is None  # a signed link's recipient matches as a user
    assert rule(ROOT, pause) is None
    assert rule(RICK, pause) == "assignees"
    assert rule(OLIVE, pause) == "assignees"


def test_a_link_is_judged_with_its_maker_too() -> None:
    to_fay = Answerer("link:fay", "fay", ("finance",), "operator", made_by=OLIVE)
    # olive started the run: her link for fay cannot get past allow_self_approval=False ...
    own = PauseRules([], False, "olive")
    found = refusal(to_fay, own, users_mode=True)
    assert found is not None and found[0] == "self-approval"
    assert "a link made by olive carries no more standing than its maker" in found[1]
    # ... nor past assignees that do not include her; an admin's link for fay passes both.
    assigned = PauseRules(["group:finance"], True, "root")
    assert rule(to_fay, assigned) == "assignees"
    by_root = Answerer("link:fay", "fay", ("finance",), "operator", made_by=ROOT)
    assert rule(by_root, assigned) is None and rule(by_root, own) is None
    # An automation's link has no maker to judge: its recipient alone is.
    by_automation = Answerer("link:fay", "fay", ("finance",), "operator")
    assert rule(by_automation, assigned) is None


def test_unassigned_pauses_are_for_operators_and_admins() -> None:
    pause = PauseRules([], True, None)
    assert rule(FAY, pause) == "unassigned"
    assert rule(OLIVE, pause) is None and rule(ROOT, pause) is None


def test_self_approval_binds_admins_and_matches_user_names() -> None:
    assert rule(ROOT, PauseRules([], False, "root")) == "self-approval"
    assert rule(LINK, PauseRules(["bea"], False, "bea")) == "self-approval"
    assert rule(OLIVE, PauseRules([], False, "root")) is None


def test_without_users_assignees_are_not_enforced_but_self_approval_is() -> None:
    local = Answerer("local:ada", None, (), "admin")
    assert rule(local, PauseRules(["group:finance"], True, "local:bob"), False) is None
    assert rule(local, PauseRules([], False, "local:ada"), False) == "self-approval"


def test_a_role_that_may_not_resume_is_refused_first() -> None:
    viewer = Answerer("val", "val", ("finance",), "viewer")
    assert rule(viewer, PauseRules(["group:finance"], True, None)) == "role"


def test_refusals_name_the_rule_and_the_answerer() -> None:
    found = refusal(RICK, PauseRules(["group:finance"], True, None), users_mode=True)
    assert found is not None and found[1] == "assigned to group:finance; you are rick in groups ops"
    found = refusal(ROOT, PauseRules([], False, "root"), users_mode=True)
    assert found is not None and found[1].startswith("self-approval not allowed: you started")


def test_check_assignees_keeps_order_drops_repeats_and_names_bad_values() -> None:
    assert check_assignees(["bob", "group:finance", "bob"]) == ["bob", "group:finance"]
    assert check_assignees([]) is None and check_assignees(None) is None
    for bad in (["group:"], [""], ["two words"], ["group:a b"]):
        with pytest.raises(ValueError, match=re.escape(repr(bad[0]))):
            check_assignees(bad)
    with pytest.raises(ValueError, match="not the string 'finance'"):
        check_assignees("finance")
    with pytest.raises(ValueError, match="51 entries"):
        check_assignees(["a"] * 51)


@pytest.mark.parametrize("pause", [pause_flow_run, suspend_flow_run])
def test_pause_functions_check_assignees_before_anything_else(pause: object) -> None:
    # Outside a flow, too: a bad argument is named before the "inside a flow" error.
    with pytest.raises(ValueError, match="'group:'"):
        pause(assignees=["group:"])  # type: ignore[operator]
