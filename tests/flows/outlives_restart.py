"""Pauses for a str polling every 0.5 s and logs `Hello, <name>!`; the server restarts while it
waits.
"""

from inloop import flow, get_run_logger, pause_flow_run


@flow
def outlives_restart():
    name = pause_flow_run(wait_for_input=str, poll_interval=0.5)
    get_run_logger().info(f"Hello, {name}!")

if __name__ == "__main__":
    outlives_restart()
