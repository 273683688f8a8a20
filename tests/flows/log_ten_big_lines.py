"""Logs ten 50 kB lines numbered 0-9: all of them must reach the server, in order.
"""

from inloop import flow, get_run_logger


@flow(name="first-hour-split-logs")
def chatty():
    logger = get_run_logger()
    for n in range(10):
        logger.info("%d %s", n, "y" * 50_000)

chatty()
