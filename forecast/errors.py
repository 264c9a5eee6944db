"""Errors raised for bad user input: each names the file, the field and what is allowed."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

HTML_COLUMNS = ("file", "line", "field", "message", "allowed")
"""The columns of a problem table, as :meth:`ScenarioError._repr_html_` shows it."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a user's file.

    Parameters
    ----------
    file : str
        The file the problem is in.
    field : str
        Dotted path of the field, e.g. ``nodes.occupation.transitions[0].to``.
    message : str
        What is wrong.
    allowed : str, optional
        What would be accepted instead.
    line : int, optional
        1-based line in the file, where the parser knows it.
    """

    file: str
    field: str
    message: str
    allowed: str = ""
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.field or '(file)'}: {self.message}"
        if self.allowed:
            text += f" Allowed: {self.allowed}"
        return text


@dataclass
class ScenarioError(Exception):
    """A scenario, evidence or questions file that cannot be used as written.

    Parameters
    ----------
    problems : list of Problem
        Every problem found, in file order where known.
    """

    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} found:"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])

    def _repr_html_(self) -> str:
        """The problems as an HTML table (file, line, field, message, allowed), for notebooks."""
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} found"
        header = "".join(f"<th>{name}</th>" for name in HTML_COLUMNS)
        rows = []
        for problem in self.problems:
            cells = (
                problem.file,
                "" if problem.line is None else str(problem.line),
                problem.field or "(file)",
                problem.message,
                problem.allowed,
            )
            rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        return (
            f'<div class="forecast-problems"><p><b>{type(self).__name__}</b>: {head}</p>'
            f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        )

    @classmethod
    def single(
        cls,
        file: str | Path,
        field: str,
        message: str,
        allowed: str = "",
        line: int | None = None,
    ) -> ScenarioError:
        """Build an error holding one problem."""
        return cls([Problem(str(file), field, message, allowed, line)])


class AsOfWarning(UserWarning):
    """An evidence cut-off outside the scenario's months: the fit is made, but means little."""
