"""Helpers that several test modules share to write small files and run the command line."""

import contextlib
import io
from pathlib import Path

from decluster.cli.commands import main


def write_lines(path: Path, lines: list[str]) -> Path:
    """Write ``lines`` to ``path``, each ended by a newline; return ``path``."""
    path.write_text("\n".join(lines) + "\n")
    return path


def one_line_error(capsys, argv: list[str]) -> str:
    """The one-line error of a command that must fail with status 1."""
    assert main(argv) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"decluster {argv[0]}: error: ") and error.count("\n") == 1, error
    return error


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """Run ``decluster`` in this process; return its exit status, standard output and standard error."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
        try:
            status = main(argv)
        except SystemExit as exit_:
            status = exit_.code
    return status, stdout.getvalue(), stderr.getvalue()
