"""Runs a trivial flow: with no server at INLOOP_API_URL it must fail fast, naming the URL.
"""

from inloop import flow


@flow
def lonely():
    return 1

lonely()
