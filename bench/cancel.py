"""How long from `inloop flow-run cancel` to the flow's process exiting, running and paused.

For each try a flow script either runs (a sleep loop) or pauses; once its run is RUNNING or
PAUSED, `inloop flow-run cancel` runs as a subprocess, as a user would. Measured from the start
of that command: when it returned (its own start-up is most of it), and when the flow's process
exited. A paused flow is woken by the cancel; a running one hears of it at its next heartbeat
(INLOOP_HEARTBEAT_INTERVAL_SECONDS, 5 s by default: expect up to that after the cancel lands).
Starts its own server on a free port with a temp INLOOP_HOME (SQLite), or on
INLOOP_DATABASE_URL's database when that is set. Prints figures; asserts nothing.

    python bench/cancel.py [--tries 3] [--interval 5]
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

from _common import median, report, start_server

SCRIPTS = {
    "running": """
import time
from inloop import flow

@flow(name="bench-cancel-running")
def busy():
    while True:
        time.sleep(0.1)

busy()
""",
    "paused": """
from inloop import flow, pause_flow_run

@flow(name="bench-cancel-paused")
def waits():
    pause_flow_run(wait_for_input=str, timeout=600)

waits()
""",
}
STATE = {"running": "RUNNING", "paused": "PAUSED"}


def one_try(api_url: str, env: dict[str, str], script: Path, state: str) -> tuple[float, float]:
    with httpx.Client(base_url=api_url, timeout=30) as http:
        known = {r["id"] for r in http.get("/flow_runs", params={"limit": 200}).json()}
        process = subprocess.Popen(
            [sys.executable, str(script)], env=env, stderr=subprocess.DEVNULL
        )
        run_id = None
        while run_id is None:
            for run in http.get("/flow_runs", params={"state": state}).json():
                if run["id"] not in known:
                    run_id = run["id"]
            time.sleep(0.05)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "inloop", "flow-run", "cancel", run_id],
            env=env, check=True, capture_output=True,
        )
        returned = time.perf_counter() - started
        process.wait(120)
        return returned, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--interval", type=float, default=5.0)
    args = parser.parse_args()
    server_cm = start_server(os.environ.get("INLOOP_DATABASE_URL"))
    with server_cm as server, tempfile.TemporaryDirectory() as tmp:
        env = {**server.env, "INLOOP_HEARTBEAT_INTERVAL_SECONDS": f"{args.interval:g}"}
        print(f"heartbeat interval {args.interval:g} s", flush=True)
        for kind, source in SCRIPTS.items():
            script = Path(tmp) / f"{kind}.py"
            script.write_text(source)
            returned, exited = [], []
            for _ in range(args.tries):
                r, e = one_try(server.api_url, env, script, STATE[kind])
                returned.append(r)
                exited.append(e)
                print(f"  {kind}: cancel returned after {r:.2f} s, process exited after "
                      f"{e:.2f} s", flush=True)
            report(f"cancel of a {kind} flow -> CLI returned", median(returned), "s")
            report(f"cancel of a {kind} flow -> process exited", median(exited), "s")


if __name__ == "__main__":
    main()
