"""What an automation is: a trigger and the actions it takes, as users write them in YAML.

The same models validate a file on the client (`inloop automation apply -f`) and every body on
the server, so a mistake is named before anything is stored. A file holds a list under
`automations:`; applying it creates or replaces each automation by name.

    automations:
      - name: email-me-when-waiting
        trigger:
          kinds: [flow-run.paused, flow-run.suspended]
          flow: "approve-*"          # optional fnmatch patterns on names
          after: 3600                # only if the run is still in that state an hour later
          repeat: {every: 3600, times: 3}
        actions:
          - type: notify
            urls: ["mailto://user:pass@smtp.example.com?to=alice@example.com"]
            body: "{{ run.name }} waits for you: {{ resume_url }}"
        escalate:                    # once the reminders are spent
          - type: cancel-run
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from inloop.bounds import JsonObject, Text
from inloop.event_kinds import EventKind

__all__ = [
    "EVENT_KINDS",
    "LOCAL_SCHEMES",
    "Action",
    "AutomationFile",
    "AutomationSpec",
    "CancelRunAction",
    "NotifyAction",
    "NotifyTarget",
    "Repeat",
    "ResumeWithDefaultsAction",
    "RunDeploymentAction",
    "Trigger",
    "WebhookAction",
    "spec_json",
]

# The run events an automation can start from (events of these kinds are written by the server).
EVENT_KINDS = tuple(
    kind.value
    for kind in (
        EventKind.FLOW_RUN_PAUSED,
        EventKind.FLOW_RUN_SUSPENDED,
        EventKind.FLOW_RUN_FAILED,
        EventKind.FLOW_RUN_CRASHED,
        EventKind.FLOW_RUN_COMPLETED,
        EventKind.FLOW_RUN_CANCELLED,
        EventKind.FLOW_RUN_INPUT_REJECTED,
    )
)
MAX_DELAY_SECONDS = 366 * 24 * 3600  # a year: past that it is a calendar, not a reminder
MAX_ACTIONS = 20
MAX_TEMPLATE = 10_000

Name = Annotated[Text, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][\w.-]*$")]
Pattern = Annotated[Text, Field(min_length=1, max_length=200)]
Url = Annotated[Text, Field(min_length=1, max_length=2000)]
# URL schemes that reach the server's own machine rather than a network service: files,
# sockets, and Apprise's desktop, D-Bus, local syslog and USB-light plugins. Refused here, when
# a file is applied, and again at send time (see server/automations/egress.py).
LOCAL_SCHEMES = frozenset({
    "file", "unix", "dbus", "kde", "qt", "glib", "gio", "gnome", "macosx", "windows",
    "syslog", "blink1",
})


def _scheme(url: str) -> str:
    return url.partition("://")[0].lower() if "://" in url else ""


def _network_service(url: str) -> str:
    scheme = _scheme(url)
    if scheme in LOCAL_SCHEMES or "+unix" in scheme:
        raise ValueError(
            f"{scheme}:// reaches the server's own machine, not a network service; "
            "automations notify over the network only (an Apprise URL such as mailto://, "
            "json://, ntfys://)"
        )
    return url


def _http(url: str) -> str:
    if _scheme(url) not in ("http", "https"):
        raise ValueError(
            f"a webhook URL is http:// or https://, not {_scheme(url) or 'schemeless'} "
            f"({url[:50]!r})"
        )
    return url


NotifyUrl = Annotated[Url, AfterValidator(_network_service)]
WebhookUrl = Annotated[Url, AfterValidator(_http)]
Template = Annotated[Text, Field(max_length=MAX_TEMPLATE)]
Seconds = Annotated[float, Field(gt=0, le=MAX_DELAY_SECONDS, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Repeat(_Strict):
    """Fire again every `every` seconds while the run stays put, at most `times` more times."""

    every: Seconds
    times: int = Field(default=1, ge=1, le=100)


class Trigger(_Strict):
    kinds: list[Literal[EVENT_KINDS]] = Field(min_length=1, max_length=len(EVENT_KINDS))  # type: ignore[valid-type]
    flow: Pattern | None = None
    deployment: Pattern | None = None
    # Wait this long, then act only if the run is still in the state the event reported.
    after: Seconds | None = None
    repeat: Repeat | None = None

    @model_validator(mode="after")
    def _repeat_needs_after(self) -> Trigger:
        if self.repeat is not None and self.after is None:
            raise ValueError(
                "trigger.repeat needs trigger.after: reminders repeat while a run stays in a "
                "state, so say how long to wait first (for example after: 3600)"
            )
        return self


class NotifyTarget(_Strict):
    """One Apprise URL, and who it reaches (the name a signed resume link is made out to)."""

    url: NotifyUrl
    recipient: Annotated[Text, Field(min_length=1, max_length=200)] | None = None


class NotifyAction(_Strict):
    type: Literal["notify"]
    urls: list[NotifyUrl | NotifyTarget] = Field(min_length=1, max_length=MAX_ACTIONS)
    title: Template = "{{ run.flow_name }} run {{ run.name }}: {{ event.kind }}"
    body: Template = "{{ description or run.name }}\n\n{{ resume_url }}"


class WebhookAction(_Strict):
    type: Literal["webhook"]
    url: WebhookUrl
    # The Standard Webhooks secret ("whsec_" + base64); unset means the body goes unsigned.
    secret: Annotated[Text, Field(max_length=500)] | None = None


class RunDeploymentAction(_Strict):
    type: Literal["run-deployment"]
    deployment: Annotated[Text, Field(min_length=3, max_length=201)]  # "flow-name/deployment"
    parameters: JsonObject = Field(default_factory=dict)


class CancelRunAction(_Strict):
    type: Literal["cancel-run"]


class ResumeWithDefaultsAction(_Strict):
    type: Literal["resume-with-defaults"]


Action = Annotated[
    NotifyAction
    | WebhookAction
    | RunDeploymentAction
    | CancelRunAction
    | ResumeWithDefaultsAction,
    Field(discriminator="type"),
]


class AutomationSpec(_Strict):
    name: Name
    description: Annotated[Text, Field(max_length=2000)] = ""
    enabled: bool = True
    trigger: Trigger
    actions: list[Action] = Field(min_length=1, max_length=MAX_ACTIONS)
    # Taken once the reminders of trigger.repeat are spent (or once, after `after`, without it).
    escalate: list[Action] = Field(default_factory=list, max_length=MAX_ACTIONS)

    @model_validator(mode="after")
    def _escalate_needs_a_wait(self) -> AutomationSpec:
        if self.escalate and self.trigger.after is None:
            raise ValueError(
                "escalate needs trigger.after: escalation happens when a run is still waiting "
                "after the reminders, so say how long to wait (trigger.after)"
            )
        return self


class AutomationFile(_Strict):
    automations: list[AutomationSpec] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _names_unique(self) -> AutomationFile:
        seen: set[str] = set()
        for spec in self.automations:
            if spec.name in seen:
                raise ValueError(f"automation name {spec.name!r} appears twice; names are keys")
            seen.add(spec.name)
        return self


def spec_json(spec: AutomationSpec) -> dict[str, Any]:
    """The stored form of a spec (what the API returns and the dispatcher reads)."""
    return spec.model_dump(mode="json")
