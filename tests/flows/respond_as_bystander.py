"""`respond_as_bystander.py VICTIM_RUN_ID`: receives one message and replies claiming to be the
victim run; the server must record the real sender.
"""

import sys

from inloop import flow
from inloop.input.run_input import receive_input


@flow
def responder(victim: str):
    print("listening", flush=True)
    for message in receive_input(str, timeout=60, poll_interval=0.1, with_metadata=True):
        # Try to make the reply look as if the bystander sent it: the server ignores that.
        message.respond(f"echo {message.value}", sender=f"inloop.flow-run.{victim}")
        print("responded", flush=True)
        return


if __name__ == "__main__":
    responder(sys.argv[1])
