"""Typed input for flow runs."""

from inloop.input.run_input import (
    AutomaticRunInput,
    GetInputHandler,
    RunInput,
    RunInputMetadata,
    asend_input,
    keyset_from_base_key,
    receive_input,
    send_input,
    send_input_async,
)

__all__ = [
    "AutomaticRunInput",
    "GetInputHandler",
    "RunInput",
    "RunInputMetadata",
    "asend_input",
    "keyset_from_base_key",
    "receive_input",
    "send_input",
    "send_input_async",
]
