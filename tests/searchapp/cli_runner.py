"""Running the `search` command in-process for tests."""

from __future__ import annotations

import io
import sys

import pytest

from searchapp.interfaces.cli import main


def run_cli(
    capsys: pytest.CaptureFixture[str], *args: str, stdin: str | None = None
) -> tuple[int, str, str]:
    """Run `search ARGS` in this process; returns (exit code, stdout, stderr)."""
    if stdin is not None:
        old, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        if stdin is not None:
            sys.stdin = old
    captured = capsys.readouterr()
    return code, captured.out, captured.err
