"""After `kill -9` of a flow process waiting on a pause: how long until the server refuses a
resume (409) and how long until the run shows CRASHED.

For each try a flow script pauses for a string; once its run is PAUSED the script gets SIGKILL.
The resume is then probed every 0.1 s with an answer that breaks the pause's schema: while the
process still counts as alive the server answers 422 and stores nothing; the first 409 is the
refusal. Starts its own server on a free port with a temp INLOOP_HOME (SQLite), or on
INLOOP_DATABASE_URL's database when that is set. Prints figures; asserts nothing.

Silence alone judges a paused run only after INLOOP_PAUSED_HEARTBEAT_GRACE_SECONDS (300 s by
default, so that a live process on an overloaded machine is never called crashed): `--budget`
sets it for this server (default 10 s), and the flow beats every second. Expect about the budget
plus a reaper pass (1 s). A runner reports its child's death at once instead.

    python bench/paused_kill.py [--tries 5] [--budget 10]
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

SCRIPT = """
from inloop import flow, pause_flow_run

@flow(name="bench-paused-kill")
def waits():
    pause_flow_run(wait_for_input=str, timeout=600)

waits()
"""
PROBE_SECONDS = 0.1


def one_try(api_url: str, env: dict[str, str], script: Path) -> tuple[float, float]:
    with httpx.Client(base_url=api_url, timeout=30) as http:
        known = {r["id"] for r in http.get("/flow_runs", params={"limit": 200}).json()}
        process = subprocess.Popen([sys.executable, str(script)], env=env)
        run_id = None
        while run_id is None:
            for run in http.get("/flow_runs", params={"state": "PAUSED"}).json():
                if run["id"] not in known:
                    run_id = run["id"]
            time.sleep(0.05)
        process.kill()
        killed = time.perf_counter()
        process.wait()
        refused = crashed = None
        while refused is None or crashed is None:
            if refused is None:
                probe = http.post(f"/flow_runs/{run_id}/resume", json={"run_input": {"value": 1}})
                if probe.status_code == 409:
                    refused = time.perf_counter() - killed
                elif probe.status_code != 422:
                    raise RuntimeError(f"unexpected answer to a probe: {probe.text}")
            if crashed is None and http.get(f"/flow_runs/{run_id}").json()["state"]["type"] == (
                "CRASHED"
            ):
                crashed = time.perf_counter() - killed
            time.sleep(PROBE_SECONDS)
        return refused, crashed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tries", type=int, default=5)
    parser.add_argument("--budget", type=float, default=10.0)
    args = parser.parse_args()
    database_url = os.environ.get("INLOOP_DATABASE_URL")
    budget = {"INLOOP_PAUSED_HEARTBEAT_GRACE_SECONDS": f"{args.budget:g}"}
    server_cm = start_server(database_url, settings=budget)
    with server_cm as server, tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "paused.py"
        script.write_text(SCRIPT)
        env = {**server.env, "INLOOP_PAUSED_HEARTBEAT_INTERVAL_SECONDS": "1"}
        refused, crashed = [], []
        for _ in range(args.tries):
            r, c = one_try(server.api_url, env, script)
            refused.append(r)
            crashed.append(c)
            print(f"  refused after {r:.2f} s, CRASHED after {c:.2f} s", flush=True)
        print(f"paused budget {args.budget:g} s")
        report("kill -9 of a paused process -> resume refused", median(refused), "s")
        report("kill -9 of a paused process -> run CRASHED", median(crashed), "s")


if __name__ == "__main__":
    main()
