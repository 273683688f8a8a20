"""Each kind of automation action, done once: notify, webhook, run-deployment, cancel-run,
resume-with-defaults.

An action either returns (done) or raises ActionFailed, saying whether trying again could help.
The three actions that change runs go through the same store functions the API uses, with the
actor `automation:<name>`, so state history and events say who did it.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from inloop.automations import (
    LOCAL_SCHEMES,
    Action,
    CancelRunAction,
    NotifyAction,
    NotifyTarget,
    ResumeWithDefaultsAction,
    RunDeploymentAction,
    WebhookAction,
)
from inloop.schemas import FlowRun, StateType
from inloop.server import answering
from inloop.server.access import AnswerRefused
from inloop.server.automations.egress import EgressPolicy, EgressRefused, guarded
from inloop.server.automations.redaction import redact_url
from inloop.server.automations.resume_links import recipient_of, resume_link_for
from inloop.server.automations.templates import (
    TemplateFailed,
    render_off_loop,
    template_context,
)
from inloop.server.database.engine import Database
from inloop.server.errors import Conflict, Invalid, NotFound
from inloop.server.link_tokens import LinkTokens
from inloop.server.store import deployments, pauses, runs
from inloop.server.store.deliveries import Delivery

__all__ = ["ActionFailed", "Context", "actor_of", "perform"]

MAX_REASON = 200  # of each line Apprise logs about a failure, in an error (no bodies)


class ActionFailed(Exception):
    """The action did not happen; `retry` says whether trying again later could help."""

    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class Context:
    db: Database
    http: httpx.AsyncClient
    ui_url: str
    timeout: float
    paused_grace: float | None
    egress: EgressPolicy
    link_tokens: LinkTokens | None = None


def actor_of(delivery: Delivery) -> str:
    return f"automation:{delivery.automation_name}"


async def perform(delivery: Delivery, action: Action, run: FlowRun | None, ctx: Context) -> None:
    if isinstance(action, NotifyAction):
        await _notify(delivery, action, _need_run(run, action), ctx)
    elif isinstance(action, WebhookAction):
        await _webhook(delivery, action, run, ctx)
    elif isinstance(action, RunDeploymentAction):
        await _run_deployment(delivery, action, ctx)
    elif isinstance(action, CancelRunAction):
        await _cancel(delivery, _need_run(run, action), ctx)
    elif isinstance(action, ResumeWithDefaultsAction):
        await _resume_with_defaults(delivery, _need_run(run, action), ctx)
    else:  # pragma: no cover - the Action union is closed
        raise ActionFailed(f"unknown action {action!r}", retry=False)


def _need_run(run: FlowRun | None, action: Action) -> FlowRun:
    if run is None:
        raise ActionFailed(
            f"the {action.type} action needs the event's flow run, which no longer exists",
            retry=False,
        )
    return run


# --- notify (Apprise) --------------------------------------------------------------------------


def _where(url: str) -> str:
    """A URL named in an error without its secrets: errors land in the delivery log, which
    operators read (see redaction)."""
    return redact_url(url)


_capturing: contextvars.ContextVar[_SendLog | None] = contextvars.ContextVar(
    "inloop_apprise_log", default=None
)


class _SendLog(logging.Handler):
    """Apprise reports why a send failed only in its log: keep this send's lines. Apprise logs
    from its own worker threads, which run with a copy of our context: the lines of this send
    are the ones logged where `_capturing` is this handler."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if _capturing.get() is self:
            self.lines.append(record.getMessage())


def _send_with_apprise(url: str, title: str, body: str, egress: EgressPolicy) -> None:
    import apprise  # its plugins load on import: only servers that notify pay for it

    scheme = url.partition("://")[0].lower()
    if scheme in LOCAL_SCHEMES:
        raise ActionFailed(
            f"the notify URL {_where(url)} is not a network service ({scheme}:// reaches this "
            "machine); automations notify over the network only",
            retry=False,
        )
    notifier = apprise.Apprise()
    handler = _SendLog()
    logger = logging.getLogger("apprise")
    logger.addHandler(handler)
    capturing = _capturing.set(handler)
    try:
        if not notifier.add(url):
            raise ActionFailed(
                f"Apprise does not understand the notify URL {_where(url)} "
                f"({_reasons(handler.lines) or 'unknown scheme or bad format'}); see "
                "https://github.com/caronc/apprise/wiki for the URL of each service",
                retry=False,
            )
        # Every address Apprise's connections resolve to is checked in this thread.
        with guarded(egress) as refusals:
            sent = notifier.notify(body=body, title=title)
        if refusals:
            raise ActionFailed(refusals[0], retry=False)
        if not sent:
            why = _reasons(handler.lines) or "no reason given"
            raise ActionFailed(f"Apprise could not send to {_where(url)}: {why}")
    finally:
        _capturing.reset(capturing)
        logger.removeHandler(handler)


def _reasons(lines: list[str]) -> str:
    """Apprise's warnings, each cut short: a status and a reason, never a receiver's body."""
    return "; ".join(line[:MAX_REASON] for line in lines[:3])


async def _notify(delivery: Delivery, action: NotifyAction, run: FlowRun, ctx: Context) -> None:
    if delivery.target_index >= len(action.urls):
        raise ActionFailed(
            f"notify target {delivery.target_index + 1} no longer exists (the automation was "
            "changed after this delivery was planned)",
            retry=False,
        )
    target = action.urls[delivery.target_index]
    url, recipient = (target.url, target.recipient) if isinstance(target, NotifyTarget) else (
        target, None
    )
    recipient = recipient_of(url, recipient)
    # Made only when the body asks for it (a link is a credential, not decoration), once per
    # delivery: its retries carry the same link.
    wants_link = "resume_url" in action.body or "resume_url" in action.title
    link = None
    if wants_link and run.pause is not None:
        link = await resume_link_for(
            ctx.db, ctx.link_tokens, run, recipient, ui_url=ctx.ui_url,
            created_by=actor_of(delivery), link_id=delivery.id,
        )
    context = template_context(
        run,
        event_kind=delivery.event_kind,
        event_occurred=delivery.event_occurred,
        event_actor=delivery.event_actor,
        recipient=recipient,
        ui_url=ctx.ui_url,
        resume_url=link,
    )
    try:
        # Off the event loop and within a time and size budget (see templates.py).
        title = await render_off_loop("title", action.title, context)
        body = await render_off_loop("body", action.body, context)
    except TemplateFailed as exc:
        raise ActionFailed(str(exc), retry=False) from exc
    await asyncio.to_thread(_send_with_apprise, url, title, body, ctx.egress)


# --- webhook (Standard Webhooks) ---------------------------------------------------------------


def webhook_body(delivery: Delivery, run: FlowRun | None) -> str:
    """The JSON body; the same on every retry (only the signature's timestamp changes)."""
    occurred = delivery.event_occurred
    payload: dict[str, Any] = {
        "type": delivery.event_kind,
        "timestamp": occurred.isoformat() if occurred else None,
        "data": {
            "event": {
                "id": delivery.event_id,
                "kind": delivery.event_kind,
                "occurred": occurred.isoformat() if occurred else None,
                "actor": delivery.event_actor,
                "automation": delivery.automation_name,
                "stage": delivery.stage,
            },
            "run": run.model_dump(mode="json") if run is not None else None,
            "delivery_id": delivery.id,
        },
    }
    return json.dumps(payload, separators=(",", ":"))


def _signature(secret: str, msg_id: str, now: datetime, body: str) -> str:
    from standardwebhooks.webhooks import Webhook

    try:
        signer = Webhook(secret)
    except Exception as exc:
        raise ActionFailed(
            f"the webhook secret is not a Standard Webhooks secret ({exc}); use 'whsec_' "
            "followed by base64, e.g. from `openssl rand -base64 32`",
            retry=False,
        ) from exc
    return str(signer.sign(msg_id, now, body))


async def _webhook(
    delivery: Delivery, action: WebhookAction, run: FlowRun | None, ctx: Context
) -> None:
    body = webhook_body(delivery, run)
    now = datetime.now(UTC).replace(microsecond=0)
    headers = {
        "content-type": "application/json",
        "user-agent": "inloop-automations",
        # Stable across retries: receivers deduplicate on it.
        "webhook-id": delivery.id,
        "webhook-timestamp": str(int(now.timestamp())),
    }
    if action.secret:
        headers["webhook-signature"] = _signature(action.secret, delivery.id, now, body)
    try:
        status = await _post_pinned(ctx, action.url, body, headers)
    except EgressRefused as exc:
        raise ActionFailed(f"webhook {_where(action.url)}: {exc}", retry=False) from exc
    except httpx.HTTPError as exc:
        raise ActionFailed(f"webhook {_where(action.url)} could not be reached: {exc!r}") from exc
    except OSError as exc:  # the name does not resolve
        raise ActionFailed(
            f"webhook {_where(action.url)} could not be reached: {exc.strerror or exc}"
        ) from exc
    if not 200 <= status < 300:
        # The status and its standard phrase only: a receiver's body never reaches the
        # delivery log (it may be an internal page, or anything an attacker wants shown).
        phrase = httpx.codes.get_reason_phrase(status)
        raise ActionFailed(f"webhook {_where(action.url)} answered {status} {phrase}".rstrip())


async def _post_pinned(ctx: Context, url: str, body: str, headers: dict[str, str]) -> int:
    """POST to the first address the URL's host resolves to, every one of them checked by the
    egress policy first (no second lookup to rebind); Host header and TLS name kept."""
    target = httpx.URL(url)
    if target.scheme not in ("http", "https") or not target.host:
        raise EgressRefused(f"webhooks are sent over http(s) only, not {target.scheme!r}")
    port = target.port or (443 if target.scheme == "https" else 80)
    addresses = await ctx.egress.resolve(target.host, port)
    pinned = target.copy_with(host=addresses[0])
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    async with ctx.http.stream(
        "POST", pinned, content=body, timeout=ctx.timeout, extensions=extensions,
        headers={**headers, "host": target.netloc.decode("ascii")},
    ) as response:
        return response.status_code  # the body is never read


# --- actions on runs ---------------------------------------------------------------------------


async def _run_deployment(delivery: Delivery, action: RunDeploymentAction, ctx: Context) -> None:
    flow_name, _, name = action.deployment.partition("/")
    if not flow_name or not name:
        raise ActionFailed(
            f"run-deployment needs 'flow-name/deployment-name', got {action.deployment!r}",
            retry=False,
        )
    try:
        async with ctx.db.read() as conn:
            deployment = await deployments.read_deployment_by_name(conn, flow_name, name)
    except NotFound as exc:
        raise ActionFailed(str(exc), retry=False) from exc
    if deployment.parameter_schema:
        errors = pauses.validate_against_schema(deployment.parameter_schema, action.parameters)
        if errors:
            raise ActionFailed(
                f"the parameters of run-deployment do not fit deployment "
                f"'{deployment.full_name}': {_describe(errors)}",
                retry=False,
            )
    async with ctx.db.transaction() as tx:
        await runs.create_run(
            tx,
            flow_name=deployment.flow_name,
            parameters=action.parameters,
            state=StateType.SCHEDULED,
            deployment_id=str(deployment.id),
            parent_flow_run_id=delivery.flow_run_id,
            actor=actor_of(delivery),
        )


async def _cancel(delivery: Delivery, run: FlowRun, ctx: Context) -> None:
    who = actor_of(delivery)
    try:
        async with ctx.db.transaction() as tx:
            await runs.set_state(
                tx,
                str(run.id),
                StateType.CANCELLED,
                message=f"cancelled by {who}",
                details={"cancelled_by": who},
                actor=who,
            )
    except (Conflict, NotFound) as exc:
        raise ActionFailed(str(exc), retry=False) from exc


async def _resume_with_defaults(delivery: Delivery, run: FlowRun, ctx: Context) -> None:
    who = actor_of(delivery)
    try:
        # Judged as an admin's standing order (see answering.resume_with_defaults).
        resumed = await answering.resume_with_defaults(
            ctx.db, str(run.id), who, ctx.paused_grace
        )
    except Invalid as exc:
        detail = exc.detail if isinstance(exc.detail, list) else [{"msg": str(exc.detail)}]
        raise ActionFailed(
            f"flow run '{run.name}' cannot be resumed with defaults: {_describe(detail)}; "
            "give every field of the pause's input a default, or resume it by hand",
            retry=False,
        ) from exc
    except (Conflict, NotFound, AnswerRefused) as exc:
        raise ActionFailed(str(exc), retry=False) from exc
    if resumed.state.type is StateType.CRASHED:
        raise ActionFailed(
            f"flow run '{run.name}' could not be resumed: {resumed.state.message}", retry=False
        )


def _describe(errors: list[dict[str, Any]]) -> str:
    parts = []
    for error in errors[:10]:
        loc = ".".join(str(p) for p in error.get("loc", []) if p not in ("body", "run_input"))
        parts.append(f"{loc or 'input'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)
