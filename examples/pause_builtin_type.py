from inloop import flow
from inloop.flow_runs import pause_flow_run
from inloop.logging import get_run_logger

@flow
def greet_user():
    logger = get_run_logger()

    user = pause_flow_run(wait_for_input=str)

    logger.info(f"Hello, {user}!")


if __name__ == "__main__":
    greet_user()
