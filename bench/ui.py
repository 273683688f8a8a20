"""Benchmark the web UI: first-load size, and the inbox with many waiting runs.

    python bench/ui.py [--runs 10000] [--repeat 20] [--no-browser]

Prints:
  - the gzip size of the JS and CSS the first page loads (read from the built index.html);
  - with --runs N waiting runs seeded through the HTTP API on a fresh server of its own:
    the time of `GET /api/inbox?limit=50` (and `/api/inbox/count`), and the time for the
    inbox page in Chromium to show its first 50 rows.

Targets (issue 6): first load <= 300 KB gzip; inbox first page <= 200 ms with 10,000 waiting runs.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
UI_DIR = ROOT / "src" / "inloop" / "server" / "ui"
RESULTS = ROOT / "bench" / "results"
CHROMIUM = os.environ.get("INLOOP_TEST_CHROMIUM", "/usr/bin/chromium")
SIZE_TARGET_KB = 300
INBOX_TARGET_MS = 200

SCHEMA = {
    "title": "Approval",
    "type": "object",
    "properties": {
        "approved": {"title": "Approved", "type": "boolean", "default": False},
        "note": {"title": "Note", "type": "string"},
    },
}


# --- first-load size -------------------------------------------------------------------------


def first_load_assets(index_html: str) -> list[str]:
    """The JS and CSS index.html makes the browser fetch before the first render."""
    assets: list[str] = []
    for tag in re.findall(r"<(?:script|link)\b[^>]*>", index_html):
        if tag.startswith("<script"):
            match = re.search(r'\bsrc="([^"]+)"', tag)
        elif re.search(r'\brel="(?:stylesheet|modulepreload)"', tag):
            match = re.search(r'\bhref="([^"]+)"', tag)
        else:
            match = None
        if match and match.group(1).startswith("/assets/"):
            assets.append(match.group(1))
    return assets


def bundle_sizes() -> dict[str, object]:
    index = UI_DIR / "index.html"
    if not index.is_file():
        raise SystemExit(f"{index} is missing: run `npm ci && npm run build` in ui/")
    files = first_load_assets(index.read_text())
    rows: list[dict[str, Any]] = []
    for url in files:
        data = (UI_DIR / url.lstrip("/")).read_bytes()
        rows.append({"file": url, "bytes": len(data), "gzip": len(gzip.compress(data, 9, mtime=0))})
    lazy = sorted(p for p in (UI_DIR / "assets").iterdir() if f"/assets/{p.name}" not in files)
    lazy_rows = [
        {
            "file": f"/assets/{p.name}",
            "bytes": p.stat().st_size,
            "gzip": len(gzip.compress(p.read_bytes(), 9, mtime=0)),
        }
        for p in lazy
        if p.suffix in (".js", ".css")
    ]
    return {
        "first_load": rows,
        "first_load_gzip": sum(r["gzip"] for r in rows),
        "lazy": lazy_rows,
    }


# --- a server of our own, seeded through the API ------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INLOOP_")}
    env["INLOOP_HOME"] = str(home)
    # Nothing heartbeats the seeded runs: keep the server from calling them crashed.
    env["INLOOP_HEARTBEAT_GRACE_SECONDS"] = str(7 * 24 * 3600)
    code = f"from inloop.server.serve import serve; serve(host='127.0.0.1', port={port})"
    log = open(home / "server.log", "ab")
    try:
        return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=log, stderr=log)
    finally:
        log.close()


def wait_healthy(base: str, process: subprocess.Popen[bytes], home: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {(home / 'server.log').read_text()}")
        try:
            if httpx.get(f"{base}/api/health", timeout=1).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("server not healthy within 30 s")


async def seed(api: str, count: int, concurrency: int = 8) -> float:
    """Create `count` runs and pause each (POST /flow_runs, POST /flow_runs/{id}/pause)."""
    started = time.perf_counter()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def worker(client: httpx.AsyncClient) -> None:
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            created = await client.post(
                "/flow_runs",
                json={
                    "flow_name": f"bench-flow-{i % 20}",
                    "state": "RUNNING",
                    "parameters": {"i": i},
                },
            )
            created.raise_for_status()
            paused = await client.post(
                f"/flow_runs/{created.json()['id']}/pause",
                json={
                    "key": "paused-1",
                    "schema": SCHEMA,
                    "description": f"Approve request #{i}\n\nDetails of the request follow.",
                    "timeout": 7 * 24 * 3600,
                },
            )
            paused.raise_for_status()

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=api, timeout=60, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return time.perf_counter() - started


def time_get(client: httpx.Client, path: str, repeat: int) -> dict[str, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return {"first_ms": samples[0], "median_ms": statistics.median(samples), "max_ms": max(samples)}


def time_inbox_page(base: str, repeat: int) -> dict[str, float]:
    """Navigation start to the inbox's first 50 rows on screen, in Chromium.

    The page sets a User Timing mark (`inloop:inbox-rendered`) when it renders the inbox; the
    figures split that time into the HTML, the JS and CSS, and the API call.
    """
    from playwright.sync_api import sync_playwright

    samples: list[dict[str, float]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        try:
            context = browser.new_context()
            for i in range(repeat + 1):  # the first load fills the HTTP cache; not counted
                page = context.new_page()
                page.goto(f"{base}/inbox")
                page.locator("[data-testid=inbox-table] tbody tr").nth(49).wait_for()
                rows = page.locator("[data-testid=inbox-table] tbody tr").count()
                assert rows == 50, f"the inbox page shows {rows} rows, expected 50"
                timing = page.evaluate(
                    """() => {
                        const mark = performance.getEntriesByName('inloop:inbox-rendered')[0];
                        const nav = performance.getEntriesByType('navigation')[0];
                        const api = performance.getEntriesByType('resource')
                            .filter(r => r.name.includes('/api/inbox?'))[0];
                        return {
                            rendered: mark.startTime,
                            html: nav.responseEnd,
                            scripts: nav.domContentLoadedEventEnd,
                            api: api ? api.responseEnd - api.startTime : -1,
                            api_start: api ? api.startTime : -1,
                            api_end: api ? api.responseEnd : -1,
                        };
                    }"""
                )
                page.close()
                if i:
                    samples.append(timing)
        finally:
            browser.close()
    median = {key: statistics.median(s[key] for s in samples) for key in samples[0]}
    return {
        "median_ms": median["rendered"],
        "max_ms": max(s["rendered"] for s in samples),
        "html_ms": median["html"],
        "dom_content_loaded_ms": median["scripts"],
        "api_ms": median["api"],
        "api_start_ms": median["api_start"],
        "api_end_ms": median["api_end"],
    }


def print_size(row: dict[str, object]) -> None:
    kb, gz = row["bytes"] / 1024, row["gzip"] / 1024  # type: ignore[operator]
    print(f"  {row['file']:<44} {kb:8.1f} KB   gzip {gz:6.1f} KB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10_000, help="waiting runs to seed")
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per endpoint")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium page timing")
    args = parser.parse_args()

    results: dict[str, object] = {}
    sizes = bundle_sizes()
    results["bundle"] = sizes
    print("First load (what index.html fetches before the first render):")
    for row in sizes["first_load"]:  # type: ignore[attr-defined]
        print(
            f"  {row['file']:<44} {row['bytes'] / 1024:8.1f} KB   gzip {row['gzip'] / 1024:6.1f} KB"
        )
    total_kb = sizes["first_load_gzip"] / 1024  # type: ignore[operator]
    verdict = "ok" if total_kb <= SIZE_TARGET_KB else "OVER TARGET"
    print(f"  total gzip {total_kb:.1f} KB (target <= {SIZE_TARGET_KB} KB: {verdict})")
    print("Loaded on demand (resume and deployment forms, Markdown):")
    for row in sizes["lazy"]:  # type: ignore[attr-defined]
        print(
            f"  {row['file']:<44} {row['bytes'] / 1024:8.1f} KB   gzip {row['gzip'] / 1024:6.1f} KB"
        )

    if args.runs > 0:
        with tempfile.TemporaryDirectory(prefix="inloop-bench-ui-") as tmp:
            home = Path(tmp)
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            server = start_server(home, port)
            try:
                wait_healthy(base, server, home)
                seconds = asyncio.run(seed(f"{base}/api", args.runs))
                print(f"\nSeeded {args.runs} waiting runs through the API in {seconds:.1f} s")
                with httpx.Client(base_url=f"{base}/api", timeout=60) as client:
                    count = client.get("/inbox/count").json()["count"]
                    assert count >= args.runs, f"inbox count {count} < {args.runs}"
                    inbox = time_get(client, "/inbox?limit=50", args.repeat)
                    last = time_get(client, f"/inbox?limit=50&offset={args.runs - 50}", args.repeat)
                    counted = time_get(client, "/inbox/count", args.repeat)
                results["inbox_api"] = inbox
                results["inbox_api_last_page"] = last
                results["inbox_count_api"] = counted
                verdict = "ok" if inbox["median_ms"] <= INBOX_TARGET_MS else "OVER TARGET"
                print(
                    f"GET /api/inbox?limit=50          median {inbox['median_ms']:7.1f} ms  "
                    f"first {inbox['first_ms']:7.1f} ms  max {inbox['max_ms']:7.1f} ms "
                    f"(target <= {INBOX_TARGET_MS} ms: {verdict})"
                )
                print(
                    f"GET /api/inbox (last page)       median {last['median_ms']:7.1f} ms  "
                    f"max {last['max_ms']:7.1f} ms"
                )
                print(
                    f"GET /api/inbox/count             median {counted['median_ms']:7.1f} ms  "
                    f"max {counted['max_ms']:7.1f} ms"
                )
                if not args.no_browser:
                    page = time_inbox_page(base, repeat=5)
                    results["inbox_page"] = page
                    verdict = "ok" if page["median_ms"] <= INBOX_TARGET_MS else "OVER TARGET"
                    print(
                        f"Inbox page, navigation to 50 rows median {page['median_ms']:7.1f} ms  "
                        f"max {page['max_ms']:7.1f} ms (target <= {INBOX_TARGET_MS} ms: {verdict})"
                    )
                    print(
                        f"  of which: HTML by {page['html_ms']:.1f} ms, JS+CSS run by "
                        f"{page['dom_content_loaded_ms']:.1f} ms, the inbox API call "
                        f"{page['api_ms']:.1f} ms (sent at {page['api_start_ms']:.1f} ms)"
                    )
            finally:
                server.terminate()
                try:
                    server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ui.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
