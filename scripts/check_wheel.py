"""Build inloop's wheel, check what it holds, install it into a clean venv and start its server.

Run by scripts/test. It proves what an editable checkout cannot: that `pip install .` works, that
the built UI ships in the wheel exactly once, and that the installed package serves it.
"""

from __future__ import annotations

import argparse
import collections
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UI_SOURCE = ROOT / "src" / "inloop" / "server" / "ui"


def fail(message: str) -> None:
    sys.exit(f"check_wheel: {message}")


def build_wheel(out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-qq", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(ROOT)],
        check=True,
    )
    wheels = list(out.glob("inloop-*.whl"))
    if len(wheels) != 1:
        fail(f"expected one inloop wheel in {out}, found {[w.name for w in wheels]}")
    return wheels[0]


def check_contents(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    twice = [name for name, count in collections.Counter(names).items() if count > 1]
    if twice:
        fail(f"{wheel.name} holds these files more than once: {twice}")
    expected = {
        "inloop/server/ui/" + path.relative_to(UI_SOURCE).as_posix()
        for path in UI_SOURCE.rglob("*")
        if path.is_file()
    }
    if "inloop/server/ui/index.html" not in expected:
        fail(f"no built UI at {UI_SOURCE}: run 'npm ci && npm run build' in ui/")
    missing = sorted(expected - set(names))
    if missing:
        fail(f"{wheel.name} lacks built UI files: {missing[:5]}")
    print(f"{wheel.name}: {len(names)} files, the UI's {len(expected)} each once")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def smoke_test(venv: Path, home: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("INLOOP_")}
    env["INLOOP_HOME"] = str(home)
    # Run from an empty folder, so the checkout's src/ cannot stand in for the installed package.
    server = subprocess.Popen(
        [str(venv / "bin" / "inloop"), "server", "start", "--port", str(port)],
        cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = fetch(f"http://127.0.0.1:{port}/api/health")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    output = server.stdout.read().decode() if server.stdout else ""
                    fail(f"the installed server did not become healthy:\n{output}")
                time.sleep(0.2)
        page = fetch(f"http://127.0.0.1:{port}/")
        if "/assets/" not in page:
            fail(f"the installed server does not serve the built UI at /: {page[:200]!r}")
        print(f"installed wheel serves the API ({health.strip()}) and the UI")
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lock", required=True, help="locked runtime requirements to install")
    parser.add_argument("--python", default="python3", help="the Python to make the venv from")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="inloop-wheel-") as tmp:
        work = Path(tmp)
        wheel = build_wheel(work / "dist")
        check_contents(wheel)
        venv = work / "venv"
        subprocess.run([args.python, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-qq"]
        subprocess.run([*pip, "--require-hashes", "--no-deps", "-r", str(ROOT / args.lock)],
                       check=True)
        subprocess.run([*pip, "--no-deps", str(wheel)], check=True)
        home = work / "home"
        home.mkdir()
        smoke_test(venv, home)


if __name__ == "__main__":
    main()
