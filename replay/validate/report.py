"""The validation's self-contained HTML page: verdict, plan, effect, and three pictures.

Both arms' equity over the test days (and the learner's minute by minute), each test
day's difference with the effect's interval, and the learner's adaptation timeline with
every reason on hover. plotly.js is embedded once: no CDN, the page opens offline.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from engine.params import NS_PER_S
from replay.validate.arms import Arms


def _time(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts / NS_PER_S, dt.UTC)


def _figures(doc: dict[str, Any], arms: Arms) -> list[go.Figure]:
    days = [d["day"] for d in doc["days"]]
    cum_l, cum_f, a, b = [], [], 1.0, 1.0
    for d in doc["days"]:
        a *= 1 + d["learner_return"]
        b *= 1 + d["frozen_return"]
        cum_l.append(a)
        cum_f.append(b)
    eq = go.Figure()
    eq.add_scatter(x=days, y=cum_l, name="learner (learning on)", mode="lines+markers")
    other = {"frozen_each_day": "frozen at each day's start",
             "frozen_at_test_start": "frozen when the test days begin",
             "never_learns": "never learns"}[doc["plan"]["baseline"]]  # fmt: skip
    eq.add_scatter(x=days, y=cum_f, name=other, mode="lines+markers")
    eq.update_layout(title="Both arms over the test days: growth of 1 (daily returns compounded)",
                     yaxis_title="growth of 1", height=380)  # fmt: skip
    curve = go.Figure()
    curve.add_scatter(x=[_time(t) for t, _ in arms.curve], y=[v for _, v in arms.curve],
                      name="learner equity", mode="lines")  # fmt: skip
    for t in [x.start_ns for x in arms.days]:
        curve.add_vline(x=_time(t).timestamp() * 1000, line_dash="dot", line_color="grey")
    curve.update_layout(title="The learner's equity (SOL), minute by minute; dotted: test days",
                        yaxis_title="SOL", height=340)  # fmt: skip
    e = doc["effect"]
    diff = go.Figure()
    diff.add_bar(x=days, y=[100 * d["difference"] for d in doc["days"]],
                 name="learner - frozen, %")  # fmt: skip
    if e["n"]:
        diff.add_hrect(y0=100 * e["ci_low"], y1=100 * e["ci_high"], fillcolor="green",
                       opacity=0.15, line_width=0,
                       annotation_text=f"{e['confidence']:.0%} interval of the mean")  # fmt: skip
        diff.add_hline(y=100 * e["mean_difference"], line_color="green",
                       annotation_text="mean difference")  # fmt: skip
    diff.update_layout(title="Each test day: learner minus frozen (daily return, points)",
                       yaxis_title="points", height=340)  # fmt: skip
    ad = [a for a in doc["adaptations"] if a["action"] != "follow_up"]
    timeline = go.Figure()
    for action in sorted({a["action"] for a in ad}):
        rows = [a for a in ad if a["action"] == action]
        timeline.add_scatter(
            x=[_time(a["time"]) for a in rows], y=[a["param"] for a in rows], mode="markers",
            name=action, text=[html.escape(a["reason"]) for a in rows],
            hovertemplate="%{x}<br>%{text}<extra></extra>", marker={"size": 10},
        )  # fmt: skip
    timeline.update_layout(title="The learner's adaptations (hover for the reason)", height=300)
    return [eq, curve, diff, timeline]


def write_report(doc: dict[str, Any], arms: Arms, out: Path) -> None:
    """Write the page to `out`."""
    e = doc["effect"]
    rows = [("verdict", doc["verdict"]), ("test days", e["n"]),
            ("mean daily difference", f"{100 * e['mean_difference']:+.3f} points"),
            (f"{e['confidence']:.0%} interval", f"[{100 * e['ci_low']:+.3f}, "
                                                 f"{100 * e['ci_high']:+.3f}] points"),
            (f"p-value ({e['test']}, one-sided)", f"{e['p_value']:.4g} (alpha {e['alpha']:g})"),
            ("deflated Sharpe ratio", f"{e['deflated_sharpe']:.4g} over "
                                       f"{e['configurations_tried']} configuration(s)"),
            ("plan sha256", doc["plan_sha256"]),
            ("learner run", doc["learner_run_id"])]  # fmt: skip
    table = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                    for k, v in rows)  # fmt: skip
    limits = "".join(f"<li>{html.escape(x)}</li>" for x in doc["limits"])
    figs = "".join(f.to_html(full_html=False, include_plotlyjs=(i == 0), default_width="100%")
                   for i, f in enumerate(_figures(doc, arms)))  # fmt: skip
    style = ("body{font-family:sans-serif;max-width:1100px;margin:auto}th{text-align:left;"
             "padding-right:1em}pre{background:#f4f4f4;padding:1em}")  # fmt: skip
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Clanka learning "
            f"validation</title><style>{style}</style></head><body><h1>Does learning help? "
            f"{html.escape(doc['verdict'])}</h1><table>{table}</table><h2>What this can and "
            f"cannot show</h2><ul>{limits}</ul>{figs}<h2>The pre-registered plan</h2>"
            f"<pre>{html.escape(doc['plan_toml'])}</pre></body></html>")  # fmt: skip
    out.write_text(page)
