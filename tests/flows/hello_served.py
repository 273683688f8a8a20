"""`hello_served.py DEPLOYMENT` serves `hello/DEPLOYMENT` (run limit from LIMIT): each run prints
`hello <name>!` `times` times, then succeeds, fails, exits with 3 or sleeps, as `mode` says.
"""

import os
import sys
import time

from inloop import flow


@flow
def hello(name: str, times: int = 1, mode: str = "ok"):
    for _ in range(times):
        print(f"hello {name}!")
    if mode == "fail":
        raise ValueError("asked to fail")
    if mode == "exit":
        os._exit(3)
    if mode == "sleep":
        time.sleep(60)
    return name


if __name__ == "__main__":
    hello.serve(name=sys.argv[1], limit=int(os.environ.get("LIMIT", "0")) or None)
