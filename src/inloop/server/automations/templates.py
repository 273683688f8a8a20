"""What a notification says: Jinja2 templates, sandboxed, over the run and the event.

Templates come from whoever may write automations, so they render in Jinja2's sandbox (no
attribute tricks reach Python internals) with StrictUndefined: a misspelt name is an error the
delivery log shows, not a silently empty message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from inloop.schemas import FlowRun

__all__ = ["TemplateFailed", "render", "resume_url_for", "run_url_for", "template_context"]

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


class TemplateFailed(Exception):
    """A template could not be rendered; the message names the template and the error."""


def run_url_for(run: FlowRun, ui_url: str) -> str:
    return f"{ui_url}/runs/{quote(str(run.id))}"


def resume_url_for(run: FlowRun, ui_url: str) -> str:
    """The link a recipient follows to answer the run's pause.

    The run's resume page in the UI, where the person signs in: what a notification links to
    when no signed link is made for its recipient (see automations/resume_links.py).
    """
    return f"{run_url_for(run, ui_url)}/resume"


def template_context(
    run: FlowRun,
    *,
    event_kind: str,
    event_occurred: datetime | None,
    event_actor: str | None,
    recipient: str | None,
    ui_url: str,
    resume_url: str | None = None,
) -> dict[str, Any]:
    return {
        "run": {
            "id": str(run.id),
            "name": run.name,
            "flow_name": run.flow_name,
            "deployment": run.deployment_name,
            "state": run.state.name,
            "url": run_url_for(run, ui_url),
        },
        "event": {
            "kind": event_kind,
            "occurred": event_occurred.isoformat() if event_occurred else None,
            "actor": event_actor,
        },
        "description": run.pause.description if run.pause else None,
        "resume_url": resume_url or resume_url_for(run, ui_url),
        "recipient": recipient,
    }


def render(what: str, source: str, context: dict[str, Any]) -> str:
    try:
        return _env.from_string(source).render(context)
    except Exception as exc:  # the sandbox, a missing name, or the template's own arithmetic
        raise TemplateFailed(
            f"the notification's {what} template cannot be rendered: {exc} "
            f"(template: {source[:200]!r}); names available: run, event, description, "
            "resume_url, recipient"
        ) from exc
