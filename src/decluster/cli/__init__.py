"""The ``decluster`` command line: ``fit``, ``predict``, ``plot`` and ``datasets``."""

from decluster.cli.commands import main

__all__ = ["main"]
