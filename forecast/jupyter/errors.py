"""A bad scenario in a notebook shows as its list of problems, not as a traceback.

:func:`show_errors_as_lists` registers an IPython handler for
:class:`~forecast.errors.ScenarioError`: the problems are displayed as a table (file, line,
field, message, allowed), with the plain-text list as the fallback of a terminal or of a
notebook viewer without HTML, and the cell still fails (so ``Run all``, nbval and papermill
stop there). It changes the shell it is given and nothing else; ``import forecast`` never
calls it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from forecast.errors import ScenarioError

if TYPE_CHECKING:
    from types import TracebackType

    from IPython.core.interactiveshell import InteractiveShell


def problem_bundle(error: ScenarioError) -> dict[str, str]:
    """The display data of an error: its HTML table and its plain-text list."""
    return {"text/html": error._repr_html_(), "text/plain": str(error)}


def show_problems(
    shell: InteractiveShell,
    etype: type[BaseException],
    value: BaseException,
    tb: TracebackType | None,
    tb_offset: int | None = None,
) -> list[str]:
    """IPython's custom exception handler: display the problems, then a one-line error.

    The error line takes the traceback's place: it is sent as the cell's error output (so the
    cell still fails for Jupyter, nbval and papermill, whose reports carry the full list as the
    error's value), while the problems above it are the display.
    """
    from IPython.display import display

    if not isinstance(value, ScenarioError):  # pragma: no cover - registered for these only
        return shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
    display(problem_bundle(value), raw=True)
    count = len(value.problems)
    summary = [f"{etype.__name__}: {count} problem{'s' if count != 1 else ''} (listed above)"]
    # what IPython's showtraceback does with a traceback: print it, or send it as an error
    shell._showtraceback(etype, value, summary)
    return summary


def show_errors_as_lists(ip: Any = None) -> bool:
    """Show every :class:`~forecast.errors.ScenarioError` raised in a cell as its problem list.

    Call it once, in a notebook's set-up cell. Other exceptions keep their tracebacks.

    Parameters
    ----------
    ip : IPython.core.interactiveshell.InteractiveShell, optional
        The shell (default: the running one, ``get_ipython()``).

    Returns
    -------
    bool
        True if the handler was registered, False outside IPython (nothing is changed).
    """
    if ip is None:
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython comes with Jupyter
            return False
        ip = get_ipython()
        if ip is None:
            return False
    ip.set_custom_exc((ScenarioError,), show_problems)
    return True
