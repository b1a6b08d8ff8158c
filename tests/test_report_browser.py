"""report.html in a real browser: headless Chromium, JavaScript off, renders every picture and asks nothing
from the network.

Needs Chromium (Debian: ``apt install chromium``; ``.ci/run`` installs it) and Playwright, which drives the
installed Chromium and downloads no browser of its own. Skipped only where no Chromium is installed.
"""

import csv
import io
import shutil

import pytest
from matplotlib import image as mpimg
from sklearn.datasets import load_wine

from decluster.cli.commands import main

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
if CHROMIUM is None:
    pytest.skip("no Chromium installed (Debian: apt install chromium)", allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402  (after the skip: needed only with a browser)

FAST = ["--method", "dec", "--quiet", "--hidden-dims", "64", "--layer-epochs", "3", "--finetune-epochs", "10",
        "--max-iter", "150", "--n-init", "2", "--random-state", "0", "--device", "cpu", "--plot-points", "300"]


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """The report of a fit on the digits (images, with labels) and on the wine table without its labels."""
    root = tmp_path_factory.mktemp("browser")
    assert main(["fit", "--out", str(root / "digits"), *FAST]) == 0
    wine = load_wine(as_frame=True).data
    with (root / "wine.csv").open("w", newline="") as stream:
        csv.writer(stream).writerows([list(wine.columns), *wine.to_numpy().tolist()])
    assert main(["fit", "--data", str(root / "wine.csv"), "--n-clusters", "3", "--out", str(root / "wine"),
                 *FAST]) == 0
    return {"digits": root / "digits" / "report.html", "wine": root / "wine" / "report.html"}


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


def _render(browser, page_path):
    """The rendered page's images (complete, natural and drawn width), the addresses it requested, its
    console messages and a screenshot of the whole page, with JavaScript off."""
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    requests, messages = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.goto(page_path.as_uri(), wait_until="load")
    images = page.evaluate("Array.from(document.images, image => [image.complete, image.naturalWidth, "
                           "image.getBoundingClientRect().width, image.alt])")
    screenshot = page.screenshot(full_page=True)
    context.close()
    return images, requests, messages, screenshot


@pytest.mark.parametrize("name, pictures", [
    ("digits", {"clusters.png", "embedding.png", "confusion.png", "training.png"}),
    ("wine", {"profiles.png", "embedding.png", "training.png"}),
])
def test_every_picture_renders_and_nothing_is_fetched(reports, browser, name, pictures):
    images, requests, messages, screenshot = _render(browser, reports[name])
    assert {alt.rsplit("(", 1)[1].rstrip(")") for *_, alt in images} == pictures
    for complete, natural_width, drawn_width, alt in images:
        assert complete and natural_width > 0 and drawn_width > 100, alt
    assert requests == [reports[name].as_uri()]  # the page itself, nothing else
    assert messages == []  # no refused load, no error
    pixels = mpimg.imread(io.BytesIO(screenshot), format="png")
    assert pixels.shape[0] > 2000 and pixels.shape[1] >= 1280
    assert pixels[..., :3].std() > 0.1  # not a blank page
    assert (pixels[..., :3].mean(axis=-1) < 0.5).mean() > 0.01  # dark pixels: text and pictures
