"""inloop: workflows that wait for people.

The public API, re-exported here. Attributes load on first use, so `import inloop` stays cheap
(a flow script pays for the server client only when it runs a flow).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from inloop._version import __version__

__all__ = [
    "Flow",
    "FlowRunContext",
    "RunInput",
    "__version__",
    "create_resume_link",
    "flow",
    "get_client",
    "get_run_context",
    "get_run_logger",
    "pause_flow_run",
    "resume_flow_run",
    "suspend_flow_run",
    "task",
]

_EXPORTS = {
    "Flow": "inloop.flows",
    "flow": "inloop.flows",
    "task": "inloop.tasks",
    "get_client": "inloop.client",
    "get_run_logger": "inloop.logging",
    "get_run_context": "inloop.context",
    "FlowRunContext": "inloop.context",
    "pause_flow_run": "inloop.flow_runs",
    "suspend_flow_run": "inloop.flow_runs",
    "resume_flow_run": "inloop.flow_runs",
    "create_resume_link": "inloop.flow_runs",
    "RunInput": "inloop.input.run_input",
}

if TYPE_CHECKING:
    from inloop.client import get_client
    from inloop.context import FlowRunContext, get_run_context
    from inloop.flow_runs import (
        create_resume_link,
        pause_flow_run,
        resume_flow_run,
        suspend_flow_run,
    )
    from inloop.flows import Flow, flow
    from inloop.input.run_input import RunInput
    from inloop.logging import get_run_logger
    from inloop.tasks import task


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'inloop' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
