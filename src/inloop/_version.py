"""The version of inloop, in a module of its own so the server can name it without loading
the public API."""

__version__ = "0.1.0"
