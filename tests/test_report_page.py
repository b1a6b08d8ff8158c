"""report.html: one self-contained page, every user string escaped, nothing loaded from elsewhere."""

import re
from html.parser import HTMLParser

import numpy as np
import torch

from decluster.plotting import figure_png, plot_confusion
from decluster.report import (
    RunDescription,
    build_report,
    machine_description,
    model_name,
    pictures_in_order,
    report_html,
)
from decluster.report.summary import ClusterRow, FeatureContrast

HOSTILE = '<script>alert("x")</script>'


class Tags(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, dict]]:
    parser = Tags()
    parser.feed(page)
    return parser.tags


def _hostile_page() -> str:
    run = RunDescription(command="decluster fit", data=f"/data/{HOSTILE}.csv", n_samples=3, n_features=2,
                         method="DEC", parameters={"hidden_dims": (8, 8), "note": HOSTILE, "init": None},
                         seconds={"pretrain": 1.5, "clustering": 0.5}, machine={"device": "cpu"},
                         scores={"accuracy": 0.9, "nmi": 0.8, "ari": 0.7}, notes=(f"chose {HOSTILE}",))
    table = [ClusterRow(0, 2, 2 / 3, 0.9, (FeatureContrast(HOSTILE, 2.0, 1.0, 1.5),), top_label=1, top_label_share=1.0),
             ClusterRow(1, 1, 1 / 3, float("nan"))]
    png = figure_png(plot_confusion([0, 0, 1], [1, 1, 0]), dpi=30)
    return report_html(run, pictures_in_order({"embedding.png": png, "clusters.png": png}), table,
                       created="2026-01-01 00:00 UTC")


def test_user_strings_are_escaped():
    page = _hostile_page()
    assert "<script" not in page.lower()
    # the data in the title, the lead line and the facts; a parameter, a note and a feature
    assert page.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") == 6
    assert [tag for tag, _ in _tags(page) if tag in ("script", "iframe", "object", "embed", "link", "base")] == []


def test_the_page_loads_nothing_from_elsewhere():
    page = _hostile_page()
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)
    assert not re.search(r"https?:|//|url\(|@import", text, re.I)
    sources = [attributes["src"] for tag, attributes in _tags(page) if "src" in attributes]
    assert len(sources) == 2 and all(source.startswith("data:image/png;base64,") for source in sources)
    assert "Content-Security-Policy" in page and "default-src 'none'; img-src data:" in page
    assert not any(name.startswith("on") for _, attributes in _tags(page) for name in attributes)


def test_the_page_says_what_was_run():
    page = _hostile_page()
    for fact in ("decluster fit", "pretrain", "1.5 s", "total", "2.0 s", "hidden_dims", "(8, 8)", "ACC", "0.9000",
                 "What was run", "The clusters", "2026-01-01"):
        assert fact in page, fact
    images = [attributes for tag, attributes in _tags(page) if tag == "img"]
    assert [image["alt"] for image in images] == ["What is in each cluster (clusters.png)",
                                                   "The embedding (embedding.png)"]
    assert all(int(image["width"]) > 0 and int(image["height"]) > 0 for image in images)


def test_pictures_in_order_follow_the_page_order():
    pngs = {name: b"" for name in ("training.png", "clusters-2.png", "embedding.png", "clusters.png", "odd.png")}
    pictures = pictures_in_order(pngs)
    assert [picture.name for picture in pictures] == ["clusters.png", "clusters-2.png", "embedding.png",
                                                      "training.png", "odd.png"]
    assert pictures[1].title == "What is in each cluster (continued)" and pictures[4].title == "odd.png"


def test_machine_description_names_the_hardware_and_software():
    machine = machine_description(torch.device("cpu"), "float32")
    assert machine["device"] == "cpu" and machine["precision"] == "float32"
    assert machine["PyTorch"] == torch.__version__ and "logical cores" in machine["CPU"]
    assert set(machine) == {"platform", "CPU", "Python", "PyTorch", "device", "precision", "decluster"}


def test_model_name_follows_the_method(fitted_dec):
    assert model_name(fitted_dec) == "DEC"


def test_build_report_of_a_fitted_model(fitted_dec, digits_small):
    X, y = digits_small
    report = build_report(fitted_dec, X, data=f"digits {HOSTILE}", true_labels=y, max_points=150)
    assert set(report.pngs) == {"embedding.png", "training.png", "confusion.png", "profiles.png"}  # no image shape
    assert "<script" not in report.html and "DEC" in report.html
    assert set(report.files()) == {*report.pngs, "clusters.csv", "report.html"}
    assert [row.size for row in report.table] == np.bincount(fitted_dec.predict(X), minlength=10).tolist()
    assert report.csv.decode().startswith("cluster,size,share,mean_confidence,top_label,top_label_share")


def test_a_page_without_scores_has_no_score_section():
    run = RunDescription(command="c", data="d", n_samples=3, n_features=1, method="DEC")
    page = report_html(run, [], [ClusterRow(0, 3, 1.0, 0.5)])
    assert "Against the true labels" not in page and 'id="metrics"' not in page and "not recorded" in page
