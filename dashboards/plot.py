"""Server-side SVG plot of a printer's health history: online time as a band, supply levels as lines.

The template draws the SVG from the numbers computed here, so the page needs no chart library and
every label still goes through Jinja's autoescaping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.models import HealthSnapshot, utcnow

WIDTH = 600
HEIGHT = 160
BAND_HEIGHT = 16
#: Colours of the supply lines, reused in order.
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf")


@dataclass(frozen=True)
class Segment:
    x: float
    width: float
    online: bool


@dataclass(frozen=True)
class Line:
    label: str
    color: str
    #: SVG ``points`` attribute: "x,y x,y ..." with numbers only.
    points: str


@dataclass(frozen=True)
class HealthPlot:
    start: datetime
    end: datetime
    segments: list[Segment] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    band_height: int = BAND_HEIGHT

    @property
    def online_percent(self) -> float | None:
        total = sum(segment.width for segment in self.segments)
        if not total:
            return None
        return 100.0 * sum(segment.width for segment in self.segments if segment.online) / total


def health_plot(session: Session, printer_id: int, hours: int = 24, now: datetime | None = None,
                limit: int = 2000) -> HealthPlot:
    """Build the plot of the last ``hours`` from the printer's health snapshots (at most ``limit``)."""
    end = now or utcnow()
    start = end - timedelta(hours=hours)
    snapshots = list(session.scalars(
        select(HealthSnapshot).where(HealthSnapshot.printer_id == printer_id, HealthSnapshot.at >= start)
        .order_by(HealthSnapshot.at.desc()).limit(limit)
    ))[::-1]
    before = session.scalars(
        select(HealthSnapshot).where(HealthSnapshot.printer_id == printer_id, HealthSnapshot.at < start)
        .order_by(HealthSnapshot.at.desc()).limit(1)
    ).first()
    span = (end - start).total_seconds()

    def x_of(at: datetime) -> float:
        return round(WIDTH * max(0.0, (at - start).total_seconds()) / span, 1)

    segments: list[Segment] = []
    states = ([(start, before.online)] if before else []) + [(snap.at, snap.online) for snap in snapshots]
    for index, (at, online) in enumerate(states):
        until = states[index + 1][0] if index + 1 < len(states) else end
        segments.append(Segment(x_of(at), round(x_of(until) - x_of(at), 1), online))

    series: dict[str, list[str]] = {}
    plot_height = HEIGHT - BAND_HEIGHT - 8
    for snap in snapshots:
        for supply in (snap.detail or {}).get("supplies") or []:
            if not isinstance(supply, dict) or not isinstance(supply.get("percent"), int | float):
                continue
            label = str(supply.get("description") or supply.get("colorant") or "supply")[:40]
            y = round(plot_height * (1 - min(100.0, max(0.0, float(supply["percent"]))) / 100), 1)
            series.setdefault(label, []).append(f"{x_of(snap.at)},{y}")
    lines = [Line(label, PALETTE[index % len(PALETTE)], " ".join(points))
             for index, (label, points) in enumerate(series.items())]
    return HealthPlot(start=start, end=end, segments=segments, lines=lines)
