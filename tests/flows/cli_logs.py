"""Runs the flow "cli-logs" once with n=7: it logs an info and a warning line and completes;
the CLI tests read that run.
"""

from inloop import flow, get_run_logger


@flow(name="cli-logs")
def cli_logs(n: int = 1):
    logger = get_run_logger()
    logger.info("hello number %s", n)
    logger.warning("careful now")
    return n

cli_logs(7)
