"""Calendar months as integer steps: the time axis of every scenario."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


def parse_month(value: str | dt.date) -> tuple[int, int]:
    """Return ``(year, month)`` for ``'YYYY-MM'``, ``'YYYY-MM-DD'`` or a date.

    Raises
    ------
    ValueError
        If the text is not a month or a date.
    """
    if isinstance(value, dt.date):
        return value.year, value.month
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%Y-%m"):
        try:
            parsed = dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed.year, parsed.month
    raise ValueError(f"'{value}' is not a date (YYYY-MM-DD) or a month (YYYY-MM)")


def parse_date(value: str | dt.date) -> dt.date:
    """Return a date for ``'YYYY-MM-DD'`` text or a date; a month means its last day."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        year, month = parse_month(text)
        return month_end(year, month)


def month_end(year: int, month: int) -> dt.date:
    """Last day of a month."""
    first_next = dt.date(year + month // 12, month % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


@dataclass(frozen=True)
class Timeline:
    """Monthly steps from ``start`` to ``horizon`` inclusive.

    Step ``t`` stands for the situation at the end of calendar month ``start + t``.
    """

    start: tuple[int, int]
    horizon: tuple[int, int]

    def __post_init__(self) -> None:
        if self.n_steps < 1:
            raise ValueError("the horizon month must not be before the start month")

    @property
    def n_steps(self) -> int:
        """Number of monthly steps, start and horizon included."""
        return self._index(self.horizon) + 1

    def _index(self, ym: tuple[int, int]) -> int:
        return (ym[0] - self.start[0]) * 12 + (ym[1] - self.start[1])

    def step_of(self, value: str | dt.date) -> int:
        """Step index of the month a date falls in (may be outside the timeline)."""
        return self._index(parse_month(value))

    def contains(self, value: str | dt.date) -> bool:
        """Whether a date falls in a month of the timeline."""
        return 0 <= self.step_of(value) < self.n_steps

    def month_label(self, step: int) -> str:
        """``'YYYY-MM'`` of a step."""
        total = self.start[0] * 12 + self.start[1] - 1 + step
        return f"{total // 12:04d}-{total % 12 + 1:02d}"

    def month_end_date(self, step: int) -> dt.date:
        """Last day of the month of a step."""
        year, month = parse_month(self.month_label(step))
        return month_end(year, month)

    @property
    def labels(self) -> list[str]:
        """``'YYYY-MM'`` label of every step."""
        return [self.month_label(t) for t in range(self.n_steps)]
