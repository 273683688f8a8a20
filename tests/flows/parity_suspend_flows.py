"""`parity_suspend_flows.py shouter|idler|gate` serves one flow as `<flow>/parity`: a receiver
that runs a task per word, the seed's suspend-after-idle example (1 s idle), and a flow that
suspends between two prints.
"""

from inloop import flow, task
from inloop.blocks.system import JSON
from inloop.context import get_run_context
from inloop.flow_runs import suspend_flow_run
from inloop.input.run_input import receive_input


@task
def shout(word: str) -> str:
    print(f"shouted {word}", flush=True)
    return word.upper()


@flow
def shouter():
    print("started", flush=True)
    for word in receive_input(str, timeout=None):
        if word == "stop":
            return
        shout(word)


# The seed's suspend-after-idle example, with a 1 s idle period and prints for the test.
@flow
async def idler():
    block_name = f"{get_run_context().flow_run.id}-seen-ids"
    try:
        seen_keys_block = await JSON.load(block_name)  # type: ignore[misc]  # the seed awaits the dual call
    except ValueError:
        seen_keys_block = JSON(value=[])
    print("listening", flush=True)
    try:
        async for name_input in receive_input(
            str, with_metadata=True, poll_interval=0.1, timeout=1,
            exclude_keys=seen_keys_block.value,
        ):
            if name_input.value == "__EXIT__":
                print("Goodbye!", flush=True)
                return
            print(f"Hello, {name_input.value}!", flush=True)
            seen_keys_block.value.append(name_input.metadata.key)
            await seen_keys_block.save(name=block_name, overwrite=True)
    except TimeoutError:
        print("idle, suspending", flush=True)
        await suspend_flow_run(timeout=10000)


@flow
def gate():
    print("before gate", flush=True)
    suspend_flow_run(timeout=600)
    print("after gate", flush=True)


if __name__ == "__main__":
    import sys
    flows = {"shouter": shouter, "idler": idler, "gate": gate}
    flows[sys.argv[1]].serve(name="parity")
