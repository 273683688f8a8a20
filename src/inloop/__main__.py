"""`python -m inloop ...` runs the command line."""

from inloop.cli.app import main

if __name__ == "__main__":
    main()
