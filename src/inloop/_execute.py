"""The process that executes one flow run for a runner: `python -m inloop._execute`.

The runner starts this process before it has a run to give it (pre-warming: the imports below
are most of a run's start-up time), then writes one JSON line to its stdin:
`{"flow_run_id": ..., "run_token": ..., "entrypoint": "/abs/path/file.py:attr",
"parameters": {...}}`. The run token goes into INLOOP_RUN_TOKEN, so this process (and any
process the flow starts) speaks to the server as that run.
The entrypoint file is imported as a module (not as `__main__`, so its
`if __name__ == "__main__":` block stays quiet) and the flow runs under the given run id.

Stdin stays open while the runner lives. When it closes without a run, the runner no longer
needs this process; when it closes during a run, the runner is gone (killed), and the run would
have nobody watching it: it is reported CRASHED and this process ends.

Exit codes: 0 when the run completed or was suspended (a suspended run holds no process),
1 when it failed or could not start, 130 when it was interrupted (SIGINT; recorded CANCELLED)
or cancelled meanwhile.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

EXIT_RUNNER_GONE = 70
EXIT_INTERRUPTED = 130  # what a shell reports for a program stopped by Ctrl-C
ENTRYPOINT_MODULE = "__inloop_entrypoint__"


def _read_job() -> dict[str, Any] | None:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(0, 65536)
        if not chunk:
            return None
        data += chunk
    job: dict[str, Any] = json.loads(data)
    return job


def _warm_up() -> None:
    # Import what every flow run needs now, while no run is waiting for us.
    import inloop.blocks.system
    import inloop.deployments
    import inloop.engine
    import inloop.flow_runs
    import inloop.flows
    import inloop.input.run_input
    import inloop.tasks  # noqa: F401
    from inloop.client import get_client

    # One request loads the HTTP stack's lazy imports and opens a pooled connection.
    try:
        get_client().health()
    except Exception:
        pass  # the server may be restarting; the run's first request will tell


def load_flow(entrypoint: str) -> Any:
    """Import `path.py:attr` under a private module name and return its Flow."""
    import importlib.util

    from inloop.flows import Flow

    path, sep, attr = entrypoint.rpartition(":")
    if not sep or not path or not attr:
        raise ValueError(f"entrypoint {entrypoint!r} should look like '/path/to/file.py:flow_name'")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"entrypoint file {path!r} does not exist on this machine")
    spec = importlib.util.spec_from_file_location(ENTRYPOINT_MODULE, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path!r} as Python code")
    module = importlib.util.module_from_spec(spec)
    sys.modules[ENTRYPOINT_MODULE] = module
    # Like `python file.py`: modules beside the file are importable.
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    spec.loader.exec_module(module)
    found = getattr(module, attr, None)
    if not isinstance(found, Flow):
        raise TypeError(f"{attr!r} in {path} is {found!r}, not a flow (decorate it with @flow)")
    return found


def _report(run_id: str, state: str, message: str) -> None:
    from inloop.client import InloopAPIError, get_client
    from inloop.schemas import StateType

    try:
        get_client().set_flow_run_state(run_id, StateType(state), message=message)
    except InloopAPIError:
        pass  # the run moved on (cancelled, ...): its state already says what happened


def _watch_runner(run_id: str) -> None:
    """End this process if the runner goes away (its end of our stdin closes)."""

    def watch() -> None:
        try:
            while os.read(0, 65536):
                pass
        except OSError:
            pass
        reporter = threading.Thread(
            target=_report,
            args=(run_id, "CRASHED", "the runner executing this flow run exited (killed?); "
                  "its process was stopped with it"),
            daemon=True,
        )
        reporter.start()
        reporter.join(5)
        sys.stderr.write("inloop: the runner went away; stopping this flow run's process\n")
        sys.stderr.flush()
        os._exit(EXIT_RUNNER_GONE)

    threading.Thread(target=watch, name="inloop-runner-watch", daemon=True).start()


def execute(run_id: str, entrypoint: str, parameters: dict[str, Any]) -> int:
    import asyncio
    import traceback

    from inloop import engine
    from inloop._parameters import coerce_parameters

    try:
        flow = load_flow(entrypoint)
        kwargs = coerce_parameters(flow, parameters)
    except Exception as exc:
        traceback.print_exc()
        _report(run_id, "FAILED", f"could not load the flow from {entrypoint}: "
                f"{type(exc).__name__}: {exc}")
        return 1
    try:
        if flow.is_async:
            asyncio.run(engine.run_flow_async(flow, (), kwargs, flow_run_id=run_id))
        else:
            engine.run_flow_sync(flow, (), kwargs, flow_run_id=run_id)
    except engine.FlowRunSuspended:
        return 0
    except engine.FlowRunCancelled:
        return EXIT_INTERRUPTED  # cancelled meanwhile: the engine said so in one line
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED  # the engine recorded the run CANCELLED and said so
    except Exception as exc:
        # The engine logged the failure with its traceback and marked the run; or the run could
        # not be started (e.g. cancelled meanwhile): say so in one line.
        sys.stderr.write(f"inloop: flow run {run_id} ended with {type(exc).__name__}: {exc}\n")
        return 1
    return 0


def main() -> int:
    _warm_up()
    job = _read_job()
    if job is None:
        return 0  # the runner stopped before it had a run for us
    run_id = str(job["flow_run_id"])
    if job.get("run_token"):
        os.environ["INLOOP_RUN_TOKEN"] = str(job["run_token"])
    _watch_runner(run_id)
    return execute(run_id, str(job["entrypoint"]), dict(job.get("parameters") or {}))


if __name__ == "__main__":
    sys.exit(main())
