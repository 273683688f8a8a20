"""Schemathesis hooks for scripts/fuzz: real ids, short long-polls, and a count of responses.

Loaded by schemathesis through SCHEMATHESIS_HOOKS. Random ids only ever reach the 404 branch, so
most generated ids are swapped for those of runs and deployments made here first (in several
states, one with a pause schema), and the bodies reach the code that stores them. The counts go
to the JSON file named by INLOOP_FUZZ_COUNTS when schemathesis exits, for scripts/fuzz to report.
"""

from __future__ import annotations

import atexit
import json
import os
import random
import threading
import urllib.request
from typing import Any

import schemathesis

# Long-poll parameters: a generated `timeout=40` would hold a worker for 40 s, and the fuzzer
# learns nothing from waiting. Values the server accepts are cut to this; others stay, so the
# out-of-range ones still test the 422.
LONG_POLLS = {"timeout": 60.0, "wait": 300.0}
SHORT = 0.05

_lock = threading.Lock()
_counts = {"cases": 0, "server_errors": 0}
# Cases per operation ("GET /api/flow_runs/{flow_run_id}"), so a short run can prove it reached
# every operation the OpenAPI document lists.
_operations: dict[str, int] = {}
_examples: list[str] = []
_pool: dict[str, list[str]] = {}
_random = random.Random(4200)


def _post(path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        os.environ["INLOOP_FUZZ_API"] + path,
        data=json.dumps(body).encode(),
        headers={
            "content-type": "application/json",
            "authorization": f"Bearer {os.environ['INLOOP_FUZZ_KEY']}",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _make_pool() -> dict[str, list[str]]:
    """Runs in each interesting state and a deployment, made once, before the first case."""
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    deployment = _post(
        "/deployments",
        {"flow_name": "fuzz", "name": "main", "entrypoint": "fuzz.py:flow",
         "parameter_schema": {"type": "object", "properties": {"n": {"type": "integer"}}}},
    )
    runs = []
    for index in range(12):
        run = _post("/flow_runs", {"flow_name": "fuzz", "state": "RUNNING"})
        if index % 3 == 1:
            _post(f"/flow_runs/{run['id']}/pause", {"key": "ask", "schema": schema})
        elif index % 3 == 2:
            _post(f"/flow_runs/{run['id']}/pause", {"key": "wait"})
        runs.append(run["id"])
    runs.append(_post(f"/deployments/{deployment['id']}/run", {})["id"])
    return {
        "flow_run_id": runs,
        "deployment_id": [deployment["id"]],
        "flow_name": ["fuzz"],
        "deployment_name": ["main"],
    }


@schemathesis.hook
def map_path_parameters(context: Any, path_parameters: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(path_parameters, dict):  # negative cases may send none at all
        return path_parameters
    with _lock:
        if not _pool:
            _pool.update(_make_pool())
    for name, known in _pool.items():
        if name in path_parameters and _random.random() < 0.8:
            path_parameters[name] = _random.choice(known)
    return path_parameters


def _shorten(values: Any) -> None:
    if not isinstance(values, dict):
        return
    for name, limit in LONG_POLLS.items():
        value = values.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            continue
        try:
            number = float(value)
        except ValueError:
            continue
        if SHORT < number <= limit:
            values[name] = SHORT if not isinstance(value, str) else str(SHORT)


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    # The request is built from the case after this hook, so edits go to the case itself.
    if case.path.endswith("/wait") and case.query is None:
        case.query = {}
    if case.path.endswith("/wait") and isinstance(case.query, dict):
        case.query.setdefault("timeout", SHORT)  # its default is 30 s
    _shorten(case.query)
    _shorten(case.body)


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    with _lock:
        _counts["cases"] += 1
        label = case.operation.label  # "GET /api/flow_runs/{flow_run_id}"
        _operations[label] = _operations.get(label, 0) + 1
        if response.status_code >= 500:
            _counts["server_errors"] += 1
            if len(_examples) < 20:
                _examples.append(f"{case.method} {case.formatted_path} -> {response.status_code}")


@atexit.register
def _write_counts() -> None:
    target = os.environ.get("INLOOP_FUZZ_COUNTS")
    if target:
        with open(target, "w") as out:
            json.dump({**_counts, "examples": _examples, "operations": _operations}, out)
