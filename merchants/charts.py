"""Bar charts as SVG coordinates, drawn by the templates with no script (templates/merchant/includes/).

Pure geometry in viewBox units: the pages pass numbers in and get bars out; the
template writes the <svg> with its <title>, <desc> and a data table next to it,
and static/css/dashboard.css gives the colours. Like the payouts page's weekly
chart (merchants.views._week_chart), which came first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

COLUMN_WIDTH, COLUMN_HEIGHT, COLUMN_TOP, COLUMN_AXIS = 640, 220, 12, 28
MAX_AXIS_LABELS = 8


@dataclass(frozen=True)
class Column:
    x: float
    y: float
    width: float
    height: float
    label_x: float
    labelled: bool  # whether its label is written under the axis (at most MAX_AXIS_LABELS are)
    key: Any  # what the bar stands for (a date), for the template's words
    value: int
    negative: bool


def column_chart(points: list[tuple[Any, int]]) -> dict[str, Any]:
    """Vertical bars of `(key, value)` points, left to right, with a zero line (values may be negative)."""
    values = [value for _, value in points] or [0]
    top, bottom = max(0, *values), min(0, *values)
    span = (top - bottom) or 1
    plot = COLUMN_HEIGHT - COLUMN_TOP - COLUMN_AXIS
    zero_y = COLUMN_TOP + plot * top / span
    slot = COLUMN_WIDTH / max(len(points), 1)
    step = max(1, math.ceil(len(points) / MAX_AXIS_LABELS))
    columns = []
    for index, (key, value) in enumerate(points):
        height = plot * abs(value) / span
        columns.append(
            Column(
                x=round(index * slot + slot * 0.15, 1),
                y=round(zero_y - height if value >= 0 else zero_y, 1),
                width=round(slot * 0.7, 1),
                height=round(height, 1),
                label_x=round(index * slot + slot / 2, 1),
                labelled=index % step == 0,
                key=key,
                value=value,
                negative=value < 0,
            )
        )
    return {
        "columns": columns,
        "zero_y": round(zero_y, 1),
        "width": COLUMN_WIDTH,
        "height": COLUMN_HEIGHT,
        "label_y": COLUMN_HEIGHT - 8,
        "top": top,
        "bottom": bottom,
    }


PERCENT_WIDTH, PERCENT_ROW, PERCENT_LABEL, PERCENT_VALUE = 640, 32, 220, 56


@dataclass(frozen=True)
class PercentBar:
    y: float
    text_y: float
    width: float  # 0 for no figure
    label: str
    percent: int | None  # rounded, None when there is no figure
    value_x: float


def percent_bars(rows: list[tuple[str, float | None]]) -> dict[str, Any]:
    """Horizontal bars of `(label, ratio 0..1 or None)` rows, top to bottom, on a 0-100 % scale."""
    plot = PERCENT_WIDTH - PERCENT_LABEL - PERCENT_VALUE
    bars = []
    for index, (label, ratio) in enumerate(rows):
        share = min(max(ratio, 0.0), 1.0) if ratio is not None else 0.0
        width = plot * share
        bars.append(
            PercentBar(
                y=round(index * PERCENT_ROW + 6, 1),
                text_y=round(index * PERCENT_ROW + PERCENT_ROW / 2 + 5, 1),
                width=round(width, 1),
                label=label if len(label) <= 28 else label[:27] + "…",
                percent=round(100 * ratio) if ratio is not None else None,
                value_x=round(PERCENT_LABEL + width + 6, 1),
            )
        )
    return {
        "bars": bars,
        "width": PERCENT_WIDTH,
        "height": max(len(rows), 1) * PERCENT_ROW,
        "plot_x": PERCENT_LABEL,
        "plot_width": plot,
        "bar_height": PERCENT_ROW - 12,
        "label_x": PERCENT_LABEL - 8,
    }
