"""`OUT/report.html`: one self-contained page (inline SVG, no script, no network) about a batch run.

A chart per result (horizontal bars for categories and followers by country, year and age group; lines for users
joined and median followers by join year), the row counts before and after cleaning and the rejected rows.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MAX_BARS = 30
PALETTE = ("#e60023", "#0074d9", "#2ca02c", "#ff851b", "#6f42c1", "#8c564b")
BAR = 18


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str) -> str:
    """Horizontal bar chart as inline SVG (the first MAX_BARS bars; a note says how many more there are)."""
    labels, values = list(labels)[:MAX_BARS], [float(v) for v in list(values)[:MAX_BARS]]
    hidden = max(0, len(list(labels)) - MAX_BARS)
    label_w, chart_w, value_w = 330, 380, 110
    height = 30 + BAR * max(1, len(values)) + (18 if hidden else 0)
    top = max(values, default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart bar" width="{label_w + chart_w + value_w}"'
        f' height="{height}" aria-label="{_esc(title)}">',
        f'<text x="0" y="14" class="title">{_esc(title)}</text>',
    ]
    if not values:
        parts.append('<text x="0" y="40">no rows</text>')
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 24 + i * BAR
        width = max(1.0, chart_w * value / top)
        short = label if len(label) <= 48 else label[:45] + "..."
        parts += [
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{_esc(short)}</text>',
            f'<rect x="{label_w}" y="{y + 2}" width="{width:.1f}" height="{BAR - 4}" fill="{PALETTE[0]}"/>',
            f'<text x="{label_w + width + 4:.1f}" y="{y + 13}">{_number(value)}</text>',
        ]
    if hidden:
        parts.append(
            f'<text x="0" y="{height - 4}" class="note">... and {hidden} more rows (see the CSV)</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(series: dict[str, list[tuple[int, float]]], title: str, x_label: str) -> str:
    """Line chart (one line per series, points marked) as inline SVG."""
    points = [p for values in series.values() for p in values]
    width, height, left, bottom, top_pad = 720, 300, 80, 40, 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart line" width="{width}" height="{height}"'
        f' aria-label="{_esc(title)}">',
        f'<text x="0" y="14" class="title">{_esc(title)}</text>',
    ]
    if not points:
        parts += ['<text x="0" y="40">no rows</text>', "</svg>"]
        return "".join(parts)
    xs = sorted({x for x, _ in points})
    y_max = max(v for _, v in points) or 1
    plot_w, plot_h = width - left - 150, height - bottom - top_pad

    def px(x: int) -> float:
        return left + (plot_w * (xs.index(x) / (len(xs) - 1)) if len(xs) > 1 else plot_w / 2)

    def py(v: float) -> float:
        return top_pad + plot_h * (1 - v / y_max)

    parts.append(
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{left + plot_w}" y2="{top_pad + plot_h}" stroke="#999"/>'
        f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{top_pad + plot_h}" stroke="#999"/>'
        f'<text x="{left - 6}" y="{top_pad + 4}" text-anchor="end">{_number(y_max)}</text>'
        f'<text x="{left - 6}" y="{top_pad + plot_h}" text-anchor="end">0</text>'
        f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle">{_esc(x_label)}</text>'
    )
    parts += [
        f'<text x="{px(x):.1f}" y="{top_pad + plot_h + 16}" text-anchor="middle">{x}</text>' for x in xs
    ]
    for i, (name, values) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        values = sorted(values)
        path = " ".join(f"{px(x):.1f},{py(v):.1f}" for x, v in values)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        parts += [
            f'<circle cx="{px(x):.1f}" cy="{py(v):.1f}" r="3.5" fill="{color}"><title>{_esc(name)} {x}: '
            f"{_number(v)}</title></circle>"
            for x, v in values
        ]
        if len(series) > 1:
            parts.append(
                f'<rect x="{left + plot_w + 16}" y="{top_pad + i * 18}" width="12" height="12" fill="{color}"/>'
                f'<text x="{left + plot_w + 32}" y="{top_pad + i * 18 + 11}">{_esc(name)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _rows(frame: Any) -> list[dict[str, Any]]:
    return frame.to_dict("records")


def result_chart(name: str, frame: Any) -> str:
    """The chart of one result."""
    rows = _rows(frame)
    title = name.replace("_", " ")
    if name in ("users_joined_by_year", "median_followers_by_join_year"):
        value = "number_users_joined" if name == "users_joined_by_year" else "median_follower_count"
        return line_chart({value: [(int(r["post_year"]), float(r[value])) for r in rows]}, title, "join year")
    if name == "median_followers_by_join_year_and_age_group":
        series: dict[str, list[tuple[int, float]]] = {}
        for r in rows:
            series.setdefault(str(r["age_group"]), []).append(
                (int(r["post_year"]), float(r["median_follower_count"]))
            )
        return line_chart(series, title, "join year")
    if name.startswith("popular_category_by_"):
        key = {"country": "country", "year": "post_year", "age_group": "age_group"}[name.split("_by_")[1]]
        rows = sorted(rows, key=lambda r: -r["category_count"]) if key == "country" else rows
        return bar_chart(
            [f"{r[key]} · {r['category']}" for r in rows], [r["category_count"] for r in rows], title
        )
    if name == "top_user_by_country":
        rows = sorted(rows, key=lambda r: -r["follower_count"])
        return bar_chart(
            [f"{r['country']} · {r['poster_name']}" for r in rows], [r["follower_count"] for r in rows], title
        )
    if name == "top_country_by_followers":
        return bar_chart([str(r["country"]) for r in rows], [r["follower_count"] for r in rows], title)
    if name == "median_followers_by_age_group":
        return bar_chart(
            [str(r["age_group"]) for r in rows], [r["median_follower_count"] for r in rows], title
        )
    columns = list(frame.columns)
    return bar_chart(
        [" · ".join(str(r[c]) for c in columns[:-1]) for r in rows], [r[columns[-1]] for r in rows], title
    )


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1100px; }
h1 { color: #e60023; } section { margin: 2em 0; } .chart text { font-size: 12px; fill: #222; }
.chart .title { font-weight: bold; font-size: 14px; } .chart .note { fill: #777; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
"""


def render_report(result: Any, lake: str, user_id: str) -> str:
    """The report page of a `BatchRunResult`."""
    count_rows = "".join(
        f"<tr><td>{_esc(ds)}</td><td>{c.read:,}</td><td>{c.rejected:,}</td><td>{c.duplicates_removed:,}</td>"
        f"<td>{c.cleaned:,}</td></tr>"
        for ds, c in result.counts.items()
    )
    sections = "".join(
        f'<section id="{_esc(name)}"><h2>{_esc(name)}</h2><p>{len(frame)} rows · '
        f'<a href="{_esc(name)}.csv">{_esc(name)}.csv</a></p>{result_chart(name, frame)}</section>'
        for name, frame in result.results.items()
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>Pinterest batch report</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>Pinterest batch report</h1><p>user id <b>{_esc(user_id)}</b> · lake <code>{_esc(lake)}</code> · "
        f"{result.elapsed_seconds:.1f} s</p>"
        "<section id='counts'><h2>Rows before and after cleaning</h2><table><tr><th>dataset</th><th>read</th>"
        "<th>rejected</th><th>duplicates removed</th><th>cleaned</th></tr>"
        f"{count_rows}</table></section>{sections}</body></html>\n"
    )


def write_report(result: Any, lake: str, user_id: str) -> Path:
    """Write `result.report_path` and return it."""
    path = Path(result.report_path)
    path.write_text(render_report(result, lake, user_id), encoding="utf-8")
    return path
