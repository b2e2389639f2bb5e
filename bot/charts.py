"""Server-drawn charts as inline SVG, and the report as one self-contained HTML page.

Hand-drawn SVG keeps the web role light (no plotting library, no script, no external URL)
and renders the same in the console, in a report mailed around and in a screen reader,
which reads each chart's title and its data table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape

from handlers.rules.figures import Figures

BAR_HEIGHT = 22
LABEL_WIDTH = 150
PLOT_WIDTH = 320
VALUE_WIDTH = 70
PALETTE = ("#2b6cb0", "#2f855a", "#b7791f", "#c53030", "#6b46c1", "#2c7a7b")


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart: a title, its unit, and the values it draws (in order)."""

    key: str
    title: str
    unit: str
    values: Mapping[str, float]

    @property
    def empty(self) -> bool:
        """Whether there is nothing to plot."""
        return not self.values

    def svg(self) -> str:
        """A horizontal bar chart; an empty chart says "no data"."""
        width = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH
        title_id = f"chart-{escape(self.key)}-title"
        if self.empty:
            return (
                f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
                f'height="40" aria-labelledby="{title_id}" class="chart chart-empty">'
                f'<title id="{title_id}">{escape(self.title)}: no data</title>'
                '<text x="8" y="24" font-size="13" fill="#555">no data</text></svg>'
            )
        top = max(self.values.values()) or 1.0
        height = BAR_HEIGHT * len(self.values) + 8
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" '
            f'aria-labelledby="{title_id}" class="chart" data-bars="{len(self.values)}">',
            f'<title id="{title_id}">{escape(self.title)}</title>',
        ]
        for i, (label, value) in enumerate(self.values.items()):
            y = 4 + i * BAR_HEIGHT
            bar = 0.0 if value <= 0 else max(1.0, PLOT_WIDTH * value / top)
            colour = PALETTE[i % len(PALETTE)]
            shown = _number(value, self.unit)
            parts.append(
                f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" font-size="12" text-anchor="end" '
                f'fill="#222">{escape(_clip(label))}</text>'
                f'<rect class="bar" x="{LABEL_WIDTH}" y="{y + 3}" width="{bar:.1f}" '
                f'height="{BAR_HEIGHT - 6}" fill="{colour}"><title>{escape(label)}: '
                f"{escape(shown)}</title></rect>"
                f'<text x="{LABEL_WIDTH + bar + 4:.1f}" y="{y + 15}" font-size="12" '
                f'fill="#222">{escape(shown)}</text>'
            )
        parts.append("</svg>")
        return "".join(parts)


def _clip(label: str, limit: int = 22) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _number(value: float, unit: str) -> str:
    if unit == "fraction":
        return f"{value * 100:.1f}%"
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    return f"{text} {unit}".strip() if unit not in ("", "count") else text


def _percent(values: Mapping[str, float | None]) -> dict[str, float]:
    return {k: v for k, v in values.items() if v is not None}


def charts_of(figures: Figures) -> list[Chart]:
    """The charts a manager looks at first, in reading order."""
    f = figures
    return [
        Chart("volume-channel", "Tickets by channel", "count", f.volume_by_channel),
        Chart("volume-kind", "Tickets by kind", "count", f.volume_by_kind),
        Chart(
            "volume-service",
            "Tickets by service",
            "count",
            dict(list(f.volume_by_service.items())[:10]),
        ),
        Chart(
            "mtta-priority",
            "Mean time to acknowledge by priority",
            "min",
            f.mtta_minutes_by_priority,
        ),
        Chart(
            "mttr-priority", "Mean time to resolve by priority", "min", f.mttr_minutes_by_priority
        ),
        Chart("mttr-group", "Mean time to resolve by group", "min", f.mttr_minutes_by_group),
        Chart(
            "sla-group", "SLA attainment by group", "fraction", _percent(f.sla_attainment_by_group)
        ),
        Chart("backlog-age", "Open tickets by age", "count", f.backlog_by_age),
        Chart(
            "volume-intent",
            "Messages by intent",
            "count",
            dict(list(f.volume_by_intent.items())[:12]),
        ),
        Chart("csat-group", "Satisfaction by group (1-5)", "", f.csat_by_group),
        Chart(
            "supplier-sla",
            "Supplier SLA attainment by supplier",
            "fraction",
            _percent(f.supplier_attainment_by_supplier),
        ),
        Chart(
            "sentiment-channel",
            "Negative opening messages by channel",
            "fraction",
            {k: c["negative_share"] for k, c in f.sentiment_by_channel.items()},
        ),
    ]


def headline(figures: Figures) -> list[tuple[str, str]]:
    """The single numbers, as (label, shown value) pairs; "no data" where there is none."""
    f = figures

    def show(value: float | None, unit: str) -> str:
        return "no data" if value is None else _number(value, unit)

    return [
        ("Tickets opened", f"{f.tickets_created:,}"),
        ("Mean time to acknowledge", show(f.mtta_minutes, "min")),
        ("Mean time to resolve", show(f.mttr_minutes, "min")),
        ("SLA attainment", show(f.sla_attainment, "fraction")),
        ("Open backlog", f"{f.backlog_open:,}"),
        ("Median backlog age", show(f.backlog_age_hours_median, "h")),
        ("First-contact resolution", show(f.first_contact_resolution, "fraction")),
        ("NLU fallbacks per 100 messages", show(f.nlu_fallback_per_100_messages, "")),
        ("Median time to approve a change", show(f.change_approval_minutes_median, "min")),
        ("Satisfaction (1-5)", show(f.csat_score_mean, "")),
        ("Deflection rate", show(f.deflection_rate, "fraction")),
        ("Supplier SLA attainment", show(f.supplier_sla_attainment, "fraction")),
        ("Negative opening messages", show(f.sentiment_negative_share, "fraction")),
    ]


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:60rem}
h1{font-size:1.5rem}h2{font-size:1.1rem;margin-top:1.6rem}
dl.headline{display:grid;grid-template-columns:repeat(auto-fill,minmax(13rem,1fr));gap:.6rem}
dl.headline div{border:1px solid #ccd;border-radius:6px;padding:.5rem .8rem}
dl.headline dt{font-size:.85rem;color:#555}dl.headline dd{margin:0;font-size:1.3rem;font-weight:600}
figure{margin:1rem 0}figcaption{font-weight:600;margin-bottom:.3rem}
table{border-collapse:collapse;font-size:.85rem}td,th{padding:.1rem .6rem;text-align:left}
details{margin-top:.3rem}
"""


def report_html(figures: Figures) -> str:
    """The report as one HTML file: headline numbers, charts, each chart's data as a table."""
    f = figures
    title = f"Switchboard desk report, {f.since:%Y-%m-%d} to {f.until:%Y-%m-%d}"
    cells = "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>" for k, v in headline(f))
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<dl class="headline">{cells}</dl>',
    ]
    for chart in charts_of(f):
        rows = "".join(
            f"<tr><th scope='row'>{escape(k)}</th><td>{escape(_number(v, chart.unit))}</td></tr>"
            for k, v in chart.values.items()
        )
        table = f"<details><summary>Data</summary><table>{rows}</table></details>" if rows else ""
        body.append(
            f"<figure><figcaption>{escape(chart.title)}</figcaption>{chart.svg()}{table}</figure>"
        )
    if f.notes:
        body.append("<p>" + escape("; ".join(f.notes)) + ".</p>")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )
