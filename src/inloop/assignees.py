"""Who a pause is assigned to: user names and `group:NAME` entries, checked the same way by the
client (before anything reaches the server) and by the server (whatever a client sends).

No I/O here, so `pause_flow_run` and the server's request model share one definition.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["GROUP_PREFIX", "MAX_ASSIGNEES", "check_assignees"]

GROUP_PREFIX = "group:"
MAX_ASSIGNEES = 50
# The same shapes the users API accepts for a user's name and a group (schemas/people.py).
USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
GROUP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:-]{0,99}")


def check_assignees(values: Sequence[str] | None) -> list[str] | None:
    """The assignees in order without repeats (None for none), or ValueError naming the first
    bad value."""
    if values is None:
        return None
    if isinstance(values, str):
        raise ValueError(
            f"assignees must be a list of names, not the string {values!r}; "
            f"write assignees=[{values!r}]"
        )
    if len(values) > MAX_ASSIGNEES:
        raise ValueError(
            f"assignees lists {len(values)} entries; at most {MAX_ASSIGNEES} are allowed "
            "(assign a group instead: 'group:NAME')"
        )
    found: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise ValueError(
                f"assignee {value!r} is not a string; give a user name or 'group:NAME'"
            )
        if value.startswith(GROUP_PREFIX):
            group = value[len(GROUP_PREFIX):]
            if not GROUP_NAME.fullmatch(group):
                raise ValueError(
                    f"assignee {value!r} is not a valid group: after 'group:' give a group name "
                    "of letters, digits and . _ @ : - (1 to 100 characters)"
                )
        elif not USER_NAME.fullmatch(value):
            raise ValueError(
                f"assignee {value!r} is not a valid user name: use letters, digits and . _ @ - "
                "(1 to 100 characters, starting with a letter or digit), or 'group:NAME' for "
                "a group"
            )
        if value not in found:
            found.append(value)
    return found or None
