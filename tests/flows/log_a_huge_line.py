"""Logs "before", a 20 MB line and "after": the run must still complete and keep its logs.
"""

from inloop import flow, get_run_logger


@flow(name="first-hour-big-log")
def big():
    logger = get_run_logger()
    logger.info("before")
    logger.info("x" * 20_000_000)
    logger.info("after")

big()
