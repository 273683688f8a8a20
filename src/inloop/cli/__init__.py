"""The `inloop` command line (Typer + Rich); the entry point is `inloop.cli.app:main`."""
