"""``python -m searchapp`` and the ``search`` command's entry point (``run``)."""

import atexit
import gc
import os
import sys


def run() -> None:
    """Import the command (about 0.1 s) and run it; Ctrl-C during the import ends it as
    Ctrl-C ends a command, with status 130 and no traceback."""
    if sys.argv[1:2] == ["query"]:
        # One query, then the process ends: Python's cyclic collector ran ~90 times while the
        # modules it needs were imported (~12 ms of a ~250 ms query) and found next to
        # nothing to free. The process exits without a last collection (cli.main).
        gc.disable()
    try:
        from searchapp.interfaces.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    if sys.argv[1:2] != ["query"]:
        main()
        return
    try:
        main()
    except SystemExit as exc:
        status = exc.code
    else:
        status = 0
    _exit_at_once(status)


def _exit_at_once(status: object) -> None:
    """End a query's process now, its output flushed: Python's teardown (every module, NumPy's
    and FAISS's memory, the model's and vectors' maps) took ~13 ms of a ~240 ms query, and a
    query has nothing left to do (its database is closed). Where its status is not a plain
    number, or a stream cannot be flushed, it ends as any other command does."""
    if status is None:
        status = 0
    if not isinstance(status, int) or isinstance(status, bool):
        sys.exit(status)
    # What asked to run at exit still runs: `-C` on a PDF hit starts a text worker, which was
    # left running (and wrote a BrokenPipeError traceback after a Ctrl-C) once its close was
    # skipped. Only the interpreter's own teardown is.
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            sys.exit(status)  # Python's own exit reports it, as before
    os._exit(status & 0xFF)


if __name__ == "__main__":
    run()
