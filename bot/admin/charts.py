"""Charts drawn on the server as SVG: no script, no CDN, nothing to load."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 600, 180, 52, 20, 30


def bar_chart(title: str, points: Sequence[tuple[date, float]], *, colour: str = "#417690", unit: str = "") -> SafeString:
    """One bar a day, with the largest value on the axis and each bar's value in its tooltip."""
    top = max((value for _, value in points), default=0) or 1
    plot_width, plot_height = WIDTH - PAD_LEFT, HEIGHT - PAD_BOTTOM - PAD_TOP
    step = plot_width / max(len(points), 1)
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}{}</title></rect>',
        (
            (
                f"{PAD_LEFT + index * step + 1:.1f}",
                f"{PAD_TOP + plot_height - value / top * plot_height:.1f}",
                f"{max(step - 2, 1):.1f}",
                f"{value / top * plot_height:.1f}",
                colour,
                day.isoformat(),
                _number(value),
                unit,
            )
            for index, (day, value) in enumerate(points)
        ),
    )
    first = points[0][0].strftime("%d %b") if points else ""
    last = points[-1][0].strftime("%d %b") if points else ""
    return format_html(
        '<svg class="console-chart" viewBox="0 0 {w} {h}" role="img" aria-label="{title}" xmlns="http://www.w3.org/2000/svg">'
        "<title>{title}</title>"
        '<text x="{pl}" y="14" font-size="13" font-weight="600" fill="#333">{title}</text>'
        '<line x1="{pl}" y1="{pt}" x2="{pl}" y2="{base}" stroke="#999"/>'
        '<line x1="{pl}" y1="{base}" x2="{w}" y2="{base}" stroke="#999"/>'
        '<text x="{tx}" y="{ty}" font-size="10" text-anchor="end" fill="#666">{top}{unit}</text>'
        '<text x="{tx}" y="{base}" font-size="10" text-anchor="end" fill="#666">0</text>'
        "{bars}"
        '<text x="{pl}" y="{h}" font-size="10" fill="#666">{first}</text>'
        '<text x="{w}" y="{h}" font-size="10" text-anchor="end" fill="#666">{last}</text>'
        "</svg>",
        w=WIDTH,
        h=HEIGHT,
        title=title,
        pl=PAD_LEFT,
        pt=PAD_TOP,
        base=PAD_TOP + plot_height,
        tx=PAD_LEFT - 4,
        ty=PAD_TOP + 8,
        top=_number(top),
        unit=unit,
        bars=bars,
        first=first,
        last=last,
    )


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.3f}"
