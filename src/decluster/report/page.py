"""``report.html``: one self-contained page of a clustering run.

The page holds everything it shows: the pictures as ``data:image/png;base64`` addresses, the
style inline, no script and no address outside itself; its Content-Security-Policy forbids
loading anything else, so it opens the same offline, from an e-mail or from an archive. Every
string from the user (file, column and parameter values) is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from decluster.report.outputs import GALLERY_FILES, PROFILES_FILE
from decluster.report.run import RunDescription
from decluster.report.summary import ClusterRow

PICTURE_TEXT = {
    "clusters.png": ("What is in each cluster",
                     "One row per cluster: its most confident members, then, set apart, its least confident "
                     "ones (the confidence of a row is the probability of its cluster). Members that look "
                     "alike on the left and like another cluster on the right show where the clusters meet."),
    "profiles.png": ("What sets each cluster apart",
                     "Each cluster's mean of each feature, in standard deviations from the whole data's mean "
                     "(red above, blue below). Features are ordered by η², the share of their variance that "
                     "lies between the clusters: the left ones separate the clusters best."),
    "embedding.png": ("The embedding",
                      "A sample of the learned embedding mapped to 2-D, coloured by cluster (or by true label "
                      "when there are labels); well separated groups mean well separated clusters."),
    "confusion.png": ("Clusters against the true labels",
                      "Points of each true label in each cluster, after matching clusters to labels one to one; "
                      "the matched pairs lie on the diagonal."),
    "training.png": ("Training",
                     "The curves the method recorded: the autoencoder's reconstruction error while it was "
                     "pretrained and, for DEC and IDEC, the clustering loss and the labels changed per update."),
    "k-selection.png": ("The number of clusters",
                        "The criterion that chose k, for each k tried; the dashed line marks the choice."),
}
"""Title and caption of each picture, by file name (every gallery page reads as ``clusters.png``)."""

PICTURE_ORDER = (*GALLERY_FILES, PROFILES_FILE, "embedding.png", "confusion.png", "training.png", "k-selection.png")
"""The order of the pictures on the page."""


@dataclass(frozen=True)
class Picture:
    """A PNG picture of the page.

    Attributes
    ----------
    name : str
        Its file name beside the report (``clusters.png``...).
    title, caption : str
    png : bytes
    """

    name: str
    title: str
    caption: str
    png: bytes


def pictures_in_order(pngs: Mapping[str, bytes]) -> list[Picture]:
    """The pictures of ``pngs`` (file name to PNG bytes) with their titles and captions, in
    ``PICTURE_ORDER`` (unknown names last, titled by their name)."""
    rank = {name: index for index, name in enumerate(PICTURE_ORDER)}
    pictures = []
    for name in sorted(pngs, key=lambda name: (rank.get(name, len(rank)), name)):
        title, caption = PICTURE_TEXT.get("clusters.png" if name in GALLERY_FILES else name, (name, ""))
        if name in GALLERY_FILES[1:]:
            title = f"{title} (continued)"
        pictures.append(Picture(name, title, caption, pngs[name]))
    return pictures


def _png_size(png: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's header, or None if it is not one."""
    if len(png) < 24 or png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", png[16:24])


_STYLE = """
body{margin:0;background:#f6f7f9;color:#1d2330;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1240px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:36px 0 10px;border-bottom:2px solid #d9dde5}
h3{font-size:16px;margin:0 0 8px}.lead{color:#4a5263;margin:0 0 12px}
nav a{margin-right:14px;color:#2456a6}
.notes{background:#fff8e1;border-left:4px solid #e0a800;padding:8px 14px;margin:14px 0}
.facts{display:flex;flex-wrap:wrap;gap:18px}.facts>div{flex:1 1 300px}
table{border-collapse:collapse;background:#fff;font-size:14px}
th,td{border:1px solid #d9dde5;padding:4px 9px;text-align:left;vertical-align:top}
th{background:#eef1f6;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.params{columns:3 300px;background:#fff;border:1px solid #d9dde5;padding:8px 12px;font-size:13px}
.params div{break-inside:avoid}.params code{color:#2456a6}
figure{background:#fff;border:1px solid #d9dde5;margin:0 0 22px;padding:14px}
figure img{display:block;max-width:100%;height:auto}
figcaption{color:#4a5263;font-size:14px;margin-top:8px}
.scores td{font-size:18px;font-weight:600}.muted{color:#6b7385}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _value_text(value: Any) -> str:
    """A parameter value in words: sequences joined by commas, None as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_value_text(item) for item in value) + ")"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _rows(pairs: Sequence[tuple[str, str]], header: tuple[str, str] | None = None) -> str:
    head = "" if header is None else f"<tr><th>{_e(header[0])}</th><th>{_e(header[1])}</th></tr>"
    body = "".join(f"<tr><th>{_e(name)}</th><td>{_e(value)}</td></tr>" for name, value in pairs)
    return f"<table>{head}{body}</table>"


def _seconds(seconds: float) -> str:
    return f"{seconds:,.1f} s" if seconds < 120 else f"{seconds / 60:,.1f} min"


def _run_section(run: RunDescription, created: str) -> str:
    facts = [("made by", run.command), ("data", run.data), ("rows", f"{run.n_samples:,}"),
             ("features", f"{run.n_features:,}")]
    if run.image_shape:
        facts.append(("images of", " × ".join(map(str, run.image_shape))))
    facts += [("method", run.method), ("created", created)]
    times = [(phase, _seconds(seconds)) for phase, seconds in run.seconds.items()]
    if len(times) > 1:
        times.append(("total", _seconds(sum(run.seconds.values()))))
    parameters = "".join(f"<div><code>{_e(name)}</code> = {_e(_value_text(value))}</div>"
                         for name, value in run.parameters.items())
    return ("<section id=\"run\"><h2>What was run</h2><div class=\"facts\">"
            f"<div><h3>Data and method</h3>{_rows(facts)}</div>"
            f"<div><h3>Time per phase</h3>{_rows(times) if times else '<p class=muted>not recorded</p>'}</div>"
            f"<div><h3>Machine</h3>{_rows(list(run.machine.items()))}</div></div>"
            f"<h3>Parameters</h3><div class=\"params\">{parameters or 'none recorded'}</div></section>")


def _scores_section(scores: Mapping[str, float]) -> str:
    names = {"accuracy": "ACC", "nmi": "NMI", "ari": "ARI"}
    cells = "".join(f"<th>{_e(names.get(name, name))}</th>" for name in scores)
    values = "".join(f"<td class=\"n\">{value:.4f}</td>" for value in scores.values())
    return ("<section id=\"metrics\"><h2>Against the true labels</h2>"
            f"<table class=\"scores\"><tr>{cells}</tr><tr>{values}</tr></table>"
            "<p class=\"muted\">ACC after the best one-to-one match of clusters to labels; NMI and ARI need no "
            "match. 1 is perfect agreement.</p></section>")


def _figure(picture: Picture) -> str:
    size = _png_size(picture.png)
    dimensions = "" if size is None else f" width=\"{size[0]}\" height=\"{size[1]}\""
    data = base64.b64encode(picture.png).decode("ascii")
    return (f"<figure id=\"{_e(picture.name)}\"><h3>{_e(picture.title)}</h3>"
            f"<img src=\"data:image/png;base64,{data}\" alt=\"{_e(picture.title)} ({_e(picture.name)})\""
            f"{dimensions}><figcaption>{_e(picture.caption)}</figcaption></figure>")


def _number(value: float) -> str:
    return "—" if not math.isfinite(value) else f"{value:.4g}"


def _confidence(value: float) -> str:
    return "—" if not math.isfinite(value) else f"{value:.3f}"


def _features_text(row: ClusterRow) -> str:
    return "; ".join(f"{feature.name}: {_number(feature.cluster_mean)} vs {_number(feature.overall_mean)} "
                     f"({feature.difference:+.1f} sd)" for feature in row.features)


def _table_section(table: Sequence[ClusterRow]) -> str:
    labelled = any(row.top_label is not None for row in table)
    described = any(row.features for row in table)
    head = ["cluster", "rows", "share", "mean confidence"] + (["most common true label"] if labelled else []) \
        + (["most distinctive features: cluster mean vs overall mean"] if described else [])
    lines = []
    for row in table:
        cells = [f"<td class=\"n\">{row.cluster}</td><td class=\"n\">{row.size:,}</td>",
                 f"<td class=\"n\">{row.share:.1%}</td><td class=\"n\">{_confidence(row.mean_confidence)}</td>"]
        if labelled:
            label = "—" if row.top_label is None else f"{row.top_label} ({row.top_label_share:.0%})"
            cells.append(f"<td>{_e(label)}</td>")
        if described:
            cells.append(f"<td>{_e(_features_text(row))}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    header = "".join(f"<th>{_e(name)}</th>" for name in head)
    return (f"<section id=\"clusters\"><h2>The clusters</h2><table><tr>{header}</tr>{''.join(lines)}</table>"
            "</section>")


def report_html(run: RunDescription, pictures: Sequence[Picture], table: Sequence[ClusterRow], *,
                created: str | None = None) -> str:
    """The report page as one HTML document.

    Parameters
    ----------
    run : RunDescription
        What was run, on which data and machine, and the scores when there were labels.
    pictures : sequence of Picture
        Drawn in order (see :func:`pictures_in_order`), each embedded as a ``data:`` address.
    table : sequence of ClusterRow
        One row per cluster (:func:`~decluster.report.cluster_table`).
    created : str, optional
        When the report was made; by default now, in UTC.

    Returns
    -------
    str
        The page: no script, no style sheet or picture from elsewhere, every user string escaped.
    """
    created = created or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lead = f"{run.data}: {run.n_samples:,} rows in {len(table)} clusters by {run.method}"
    notes = "".join(f"<p>{_e(note)}</p>" for note in run.notes)
    sections = [_run_section(run, created)]
    if run.scores:
        sections.append(_scores_section(run.scores))
    sections.append("<section id=\"pictures\"><h2>Pictures</h2>" + "".join(map(_figure, pictures)) + "</section>")
    sections.append(_table_section(table))
    navigation = "".join(f"<a href=\"#{anchor}\">{name}</a>" for anchor, name in (
        ("run", "What was run"), *((("metrics", "Scores"),) if run.scores else ()), ("pictures", "Pictures"),
        ("clusters", "The clusters")))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
            "style-src 'unsafe-inline'\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>decluster report: {_e(run.data)}</title><style>{_STYLE}</style></head>\n<body><main>"
            f"<h1>decluster report</h1><p class=\"lead\">{_e(lead)}</p><nav>{navigation}</nav>"
            + (f"<div class=\"notes\">{notes}</div>" if notes else "") + "\n".join(sections)
            + "</main></body></html>\n")
