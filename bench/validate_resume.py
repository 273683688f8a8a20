"""Validate before resume: the round trip from a resume's submit to its answer.

A flow process pauses with the seed's ShirtOrder and `validate_before_resume=True`. The bench
POSTs resumes with size small and color green, which the flow's model_validator refuses: each
one is offered to the flow, which is woken, judges it, and answers; the 422 then comes back and
the run stays paused, so every submit is a full round trip. For comparison, the same refusal by
the pause's JSON schema alone (a size outside the choices: the flow is never asked). Median and
p99 over `--resumes` submits. Starts its own server on a free port with a temp INLOOP_HOME
(SQLite), or on INLOOP_DATABASE_URL's database when that is set. Prints figures; asserts nothing.

    python bench/validate_resume.py [--resumes 200]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from _common import median, p99, report, start_server

WARMUP = 5
FLOW = """
from typing import Literal

import pydantic
from inloop import flow, pause_flow_run
from inloop.input import RunInput


class ShirtOrder(RunInput):
    size: Literal["small", "medium", "large", "xlarge"]
    color: Literal["red", "green", "black"]

    @pydantic.model_validator(mode="after")
    def validate_age(self):
        if self.color == "green" and self.size == "small":
            raise ValueError("Green is only in-stock for medium, large, and XL sizes.")
        return self


@flow(name="bench-validate-resume")
def get_shirt_order():
    pause_flow_run(wait_for_input=ShirtOrder, validate_before_resume=True)


get_shirt_order()
"""


def wait_paused(http: httpx.Client, process: subprocess.Popen[bytes]) -> str:
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the flow exited with code {process.returncode} before pausing")
        runs = http.get("/flow_runs", params={"state": "PAUSED"}).json()
        if runs:
            return str(runs[0]["id"])
        time.sleep(0.05)


def time_resumes(http: httpx.Client, run_id: str, answer: dict[str, str], n: int) -> list[float]:
    times = []
    for i in range(n + WARMUP):
        started = time.perf_counter()
        response = http.post(f"/flow_runs/{run_id}/resume", json={"run_input": answer})
        elapsed = time.perf_counter() - started
        if response.status_code != 422:
            raise RuntimeError(f"expected a 422, got {response.status_code}: {response.text}")
        if i >= WARMUP:
            times.append(elapsed)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resumes", type=int, default=200, help="refused resumes to time")
    args = parser.parse_args()
    database_url = os.environ.get("INLOOP_DATABASE_URL")
    print(f"validate before resume ({'PostgreSQL' if database_url else 'SQLite'}, "
          f"{os.cpu_count()} CPUs, {args.resumes} submits each)\n")
    with start_server(database_url) as server, tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "shirt.py"
        script.write_text(FLOW)
        env = {**server.env, "INLOOP_LOGGING_LEVEL": "WARNING"}
        process = subprocess.Popen(
            [sys.executable, str(script)], env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            with httpx.Client(base_url=server.api_url, timeout=30) as http:
                run_id = wait_paused(http, process)
                judged = time_resumes(http, run_id, {"size": "small", "color": "green"},
                                      args.resumes)
                schema = time_resumes(http, run_id, {"size": "tiny", "color": "green"},
                                      args.resumes)
        finally:
            process.kill()
            process.wait()
    ms = 1000.0
    report("refused by the flow's validator: median", median(judged) * ms, "ms")
    report("refused by the flow's validator: p99", p99(judged) * ms, "ms")
    report("refused by the schema alone: median", median(schema) * ms, "ms")
    report("refused by the schema alone: p99", p99(schema) * ms, "ms")


if __name__ == "__main__":
    main()
