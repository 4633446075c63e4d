"""``python -m searchapp`` and the ``search`` command's entry point (``run``)."""

import sys


def run() -> None:
    """Import the command (about 0.1 s) and run it; Ctrl-C during the import ends it as
    Ctrl-C ends a command, with status 130 and no traceback."""
    try:
        from searchapp.interfaces.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    main()


if __name__ == "__main__":
    run()
