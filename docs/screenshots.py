"""Render pages of the built documentation to PNG with headless Chromium, to look at them.

Usage::

    python -m sphinx -b html docs docs/_build/html
    python docs/screenshots.py docs/_build/html --out docs/_build/screenshots

Writes ``index.png`` (the landing page) and ``api.png`` (the API reference) by default; name
other pages with ``--page``. Needs Chromium (Debian: ``apt install chromium``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
QUIET_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars")


def find_chromium() -> str:
    """The path of a Chromium executable; exits with a message when there is none."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("no Chromium found (Debian: apt install chromium)")


def screenshot(chromium: str, page: Path, out: Path, size: tuple[int, int]) -> None:
    """Render the HTML file ``page`` into the PNG ``out`` at ``size`` (width, height) pixels."""
    with tempfile.TemporaryDirectory() as profile:
        command = [chromium, *QUIET_FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
                   f"--screenshot={out}", page.resolve().as_uri()]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0 or not out.is_file():
        raise SystemExit(f"chromium failed on {page}: {result.stderr.strip()[-500:]}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="the folder of the built HTML site")
    parser.add_argument("--out", type=Path, default=Path("docs/_build/screenshots"))
    parser.add_argument("--page", action="append", help="page to render, relative to the site (repeatable)")
    parser.add_argument("--size", type=int, nargs=2, default=(1400, 1800), metavar=("WIDTH", "HEIGHT"))
    args = parser.parse_args(argv)
    chromium = find_chromium()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.page or ["index.html", "api.html"]:
        page = args.html / name
        if not page.is_file():
            raise SystemExit(f"{page}: no such page; build the docs first")
        target = args.out / (Path(name).with_suffix(".png").as_posix().replace("/", "-"))
        screenshot(chromium, page, target, tuple(args.size))
        print(target)


if __name__ == "__main__":
    sys.exit(main())
