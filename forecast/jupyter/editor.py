"""The prior editor: every judgement of a fit as controls, the forecast redrawn as they move.

:class:`PriorEditor` shows, for a :class:`~forecast.Fit`, one row per judgement grouped by
node and rule (the rule's condition in words, its window, the destination, the best guess,
the interval and its credibility, the rationale), and beside them the negotiated outcomes by
month (the edited forecast solid with its band, the file's dashed) and a before/after table
of every question. An edit re-fits through :meth:`Fit.refit`: re-weighted (the fit's draws or
its likelihood pool) when reliable, else NUTS, and the status line says which and how long.
Invalid values are shown next to their control in the words ``forecast check`` uses.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from forecast.api.fit import Fit
from forecast.api.model import ScenarioModel
from forecast.errors import ScenarioError
from forecast.jupyter.curves import OutcomeFigure

logger = logging.getLogger(__name__)

__all__ = ["PriorEditor"]

_NUMBER = {"step": 0.01, "layout": widgets.Layout(width="76px")}

FITS_KEPT = 12
"""Re-fits kept for undo and revisits (each holds its draws, about 10 MB on Kursk)."""


@dataclass
class _Row:
    """The controls of one judgement (a rule's destination)."""

    rule: str
    to: str
    best: widgets.FloatText
    low: widgets.FloatText
    high: widgets.FloatText
    credibility: widgets.FloatText
    prior: widgets.HTML
    error: widgets.HTML


@dataclass
class _RuleControls:
    rule: str
    window: widgets.IntText
    rationale: widgets.Textarea
    error: widgets.HTML
    rows: list[_Row]


def _field_name(field: str) -> str:
    """The last part of a problem's field (``...to.active.credibility (rule r)`` -> credibility)."""
    return field.split(" (rule ")[0].rsplit(".", 1)[-1]


def _problems_html(exc: ScenarioError) -> str:
    """The problems as ``forecast check`` words them, one list item each."""
    items = "".join(
        f"<li><b>{html.escape(_field_name(p.field))}</b>: {html.escape(p.message)}. "
        f"Allowed: {html.escape(p.allowed)}</li>"
        for p in exc.problems
    )
    return f"<ul class='forecast-error' style='color:#b00020;margin:0'>{items}</ul>"


class PriorEditor:
    """Edit a fit's judgements in JupyterLab and watch the forecast move.

    Parameters
    ----------
    fit : Fit
        A posterior fit (``model.fit(as_of=...)``); its priors are the baseline.
    outcomes : sequence of str, optional
        Outcome ids to draw (default: every outcome of the scenario).
    prepare : bool
        Build the fit's likelihood pool now, in a background thread (a few seconds), so
        that the first edits are instant too (:meth:`wait_ready` waits for it).

    Attributes
    ----------
    model : ScenarioModel
        The edited model (the fit's model before any edit).
    fit : Fit
        The fit of :attr:`model`.
    widget : ipywidgets.Widget
        What is displayed.
    """

    def __init__(
        self, fit: Fit, outcomes: Sequence[str] | None = None, prepare: bool = True
    ) -> None:
        if not isinstance(fit, Fit) or fit.method == "prior":
            raise TypeError("PriorEditor needs a posterior Fit (model.fit(as_of=...))")
        fit = fit.with_reached_curves()
        self._preparing: threading.Thread | None = None
        if prepare:  # the pool is built meanwhile (the kernels release the GIL)
            self._preparing = threading.Thread(
                target=fit.likelihood_pool, name="forecast-likelihood-pool", daemon=True
            )
            self._preparing.start()
        self.baseline = fit
        self.model: ScenarioModel = fit.model
        self.fit: Fit = fit
        self.history: list[ScenarioModel] = []
        self.last_seconds = 0.0
        self._fits: dict[tuple[str, str], Fit] = {self._key(fit.model): fit}
        self._prior_tables: dict[str, Any] = {}
        self._outcomes = outcomes
        # a scenario without outcomes has only its questions' table
        self._figure = OutcomeFigure(fit, outcomes) if outcomes or fit.scenario.outcomes else None
        self._updating = False
        self._build()
        self._redraw()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the likelihood pool is built (edits are instant after it)."""
        if self._preparing is not None:
            self._preparing.join(timeout)
            return not self._preparing.is_alive()
        return True

    # -- the edits --------------------------------------------------------------------------

    @staticmethod
    def _key(model: ScenarioModel) -> tuple[str, str]:
        return (model.scenario.hash if not model.edits else repr(model.edits), model.priors_digest)

    def edit(self, rule: str, to: str | None = None, **fields: Any) -> Fit:
        """Apply one judgement edit as the controls do (``best``, ``interval``, ...).

        Raises
        ------
        ScenarioError
            For values a file could not hold (nothing is changed).
        """
        model = self.model.with_judgement(rule, to, **fields)
        self._apply(model)
        self._sync_controls()
        return self.fit

    def _apply(self, model: ScenarioModel, remember: bool = True) -> None:
        if model.edited_entries() == self.model.edited_entries():
            return  # nothing the file would hold differs
        self._status.value = "<i>updating the forecast&hellip;</i>"
        self._busy.layout.visibility = "visible"
        start = time.perf_counter()
        key = self._key(model)
        try:
            fit = self._fits.get(key)
            if fit is None:
                fit = self.baseline.refit(model, prior=False)
                self._fits[key] = fit
                if len(self._fits) > FITS_KEPT:
                    self._fits.pop(next(iter(self._fits)))
        except Exception as exc:  # a widget callback must not end in a traceback
            logger.exception("re-fitting the edit failed")
            self._busy.layout.visibility = "hidden"
            self._status.value = (
                "<span class='forecast-status' style='color:#b00020'>The edit could not be "
                f"re-fitted ({html.escape(type(exc).__name__)}: {html.escape(str(exc))}); "
                "the forecast shown is still the previous one.</span>"
            )
            return
        if remember:
            self.history.append(self.model)
        self.model, self.fit = model, fit
        self._redraw()
        self.last_seconds = time.perf_counter() - start
        self._busy.layout.visibility = "hidden"
        self._status.value = self._status_text()

    def undo(self) -> None:
        """Go back to the model before the last edit."""
        if self.history:
            self._apply(self.history.pop(), remember=False)
            self._sync_controls()

    def reset(self) -> None:
        """Back to the file's priors (undo still steps back through the edits)."""
        self._apply(self.baseline.model)
        self._sync_controls()

    def save(
        self,
        target: str | Path | None = None,
        *,
        id: str | None = None,
        author: str | None = None,
        priors_set_on: Any = None,
        overwrite: bool = False,
    ) -> Path:
        """Write the edits: a variant file at ``target``, or the scenario file itself.

        A variant ``extends:`` the scenario and restates the edited nodes only; with
        ``target`` None the edits go into the scenario file. ``priors_set_on`` is the date
        written to the file's ``priors_set_on`` (None keeps the file's).
        """
        if target is None:
            return self.model.save_in_place(priors_set_on=priors_set_on)
        target = Path(target)
        return self.model.save_variant(
            target,
            id=id or target.stem,
            author=author,
            priors_set_on=priors_set_on,
            overwrite=overwrite,
        )

    def table(self):
        """Before (the file's priors) and after (the edits) of every question."""
        return self.baseline.compare(self.fit)

    # -- the widgets ------------------------------------------------------------------------

    def _status_text(self) -> str:
        fit = self.fit
        if fit is self.baseline:
            how = "Forecast by the file's priors (the fit itself)"
        elif fit.method == "nuts":
            how = "Forecast re-fitted by NUTS (the edit is too far to re-weight)"
        else:
            source = fit.idata.posterior.attrs.get("reweight_source", "posterior")
            what = "the fit's own draws" if source == "posterior" else f"the {source}"
            how = (
                f"Forecast re-weighted from {what} (importance ESS "
                f"{fit.reweighting.get('ess', float('nan')):.0f}, Pareto k "
                f"{fit.reweighting.get('pareto_k', float('nan')):.2f})"
            )
        edits = ", ".join(self.model.edits) or "none"
        return (
            f"<span class='forecast-status'>{html.escape(how)} in {self.last_seconds:.2f} s. "
            f"Edited rules: {html.escape(edits)}.</span>"
        )

    def _build(self) -> None:
        scenario = self.model.scenario
        title = scenario.spec.title or scenario.id
        self._controls: dict[str, _RuleControls] = {}
        node_boxes = []
        for node in scenario.nodes:
            if node.is_source:  # its rows come from one stated reliability, edited in the file
                continue
            rules = [r for r in scenario.rules if r.node == node.name and r.judgements]
            if not rules:
                continue
            boxes = [self._rule_box(rule) for rule in rules]
            node_boxes.append((f"{node.label} ({node.name})", widgets.VBox(boxes)))
        accordion = widgets.Accordion(children=[b for _, b in node_boxes])
        for i, (node_title, _) in enumerate(node_boxes):
            accordion.set_title(i, node_title)
        accordion.add_class("forecast-judgements")
        self._status = widgets.HTML(self._status_text())
        self._busy = widgets.IntProgress(
            value=1, min=0, max=1, bar_style="info", layout=widgets.Layout(width="120px")
        )
        self._busy.layout.visibility = "hidden"
        undo = widgets.Button(description="Undo", icon="undo")
        reset = widgets.Button(description="Reset to file", icon="refresh")
        undo.on_click(lambda _: self.undo())
        reset.on_click(lambda _: self.reset())
        undo.add_class("forecast-undo")
        reset.add_class("forecast-reset")
        self._save_box = self._saving()
        # shown at its own size (no up-scaling), shrunk only when the column is narrower
        self._image = widgets.Image(
            format="png", layout=widgets.Layout(width="auto", max_width="100%")
        )
        self._table = widgets.HTML()
        self._table.add_class("forecast-table")
        left = widgets.VBox(
            [widgets.HTML("<b>Judgements</b> (Enter or leave a field to apply)"), accordion],
            layout=widgets.Layout(flex="1 1 440px", min_width="440px"),
        )
        right = widgets.VBox(
            [self._image, self._table], layout=widgets.Layout(flex="1 1 560px", min_width="400px")
        )
        self.widget = widgets.VBox(
            [
                widgets.HTML(
                    f"<h3 style='margin:4px 0'>{html.escape(title)}: priors as of "
                    f"{self.baseline.as_of or 'all evidence'}</h3>"
                ),
                widgets.HBox([undo, reset, self._busy, self._status]),
                widgets.HBox([left, right], layout=widgets.Layout(flex_flow="row wrap")),
                self._save_box,
            ]
        )
        self.widget.add_class("forecast-editor")

    def _rule_box(self, rule) -> widgets.Widget:
        table = {r["destination"]: r for _, r in self._prior_rows(rule.name).iterrows()}
        rows = []
        for to in rule.destinations:
            judgement = rule.judgements.get(to) if isinstance(rule.judgements, dict) else None
            if judgement is None or judgement.best is None:  # stated as plain parameters
                continue
            best = widgets.FloatText(value=judgement.best, description="best", **_NUMBER)
            low = widgets.FloatText(value=judgement.interval[0], description="from", **_NUMBER)
            high = widgets.FloatText(value=judgement.interval[1], description="to", **_NUMBER)
            cred = widgets.FloatText(
                value=table.get(to, {}).get("credibility", 0.8), description="mass", **_NUMBER
            )
            for w in (best, low, high, cred):
                w.style.description_width = "40px"
                w.layout.width = "118px"
                w.continuous_update = False
            slug = f"{rule.name}>{to}"
            best.add_class("forecast-best")
            best.add_class(_css(slug))
            row = _Row(rule.name, to, best, low, high, cred, widgets.HTML(), widgets.HTML())
            row.prior.value = self._prior_text(rule.name, to)
            for w in (best, low, high, cred):
                w.observe(lambda change, row=row: self._on_judgement(row), names="value")
            rows.append(row)
        window = widgets.IntText(
            value=rule.within_months,
            description="months",
            layout=widgets.Layout(width="140px"),
            continuous_update=False,
        )
        window.style.description_width = "50px"
        rationale = widgets.Textarea(
            value=rule.spec.rationale or "",
            layout=widgets.Layout(width="98%", height="48px"),
            continuous_update=False,
        )
        controls = _RuleControls(rule.name, window, rationale, widgets.HTML(), rows)
        window.observe(lambda change, c=controls: self._on_rule(c, "window"), names="value")
        rationale.observe(lambda change, c=controls: self._on_rule(c, "rationale"), names="value")
        self._controls[rule.name] = controls
        parts = [widgets.HTML(f"<b>{html.escape(_condition_words(self.model, rule))}</b>"), window]
        if len(rows) < len(rule.destinations):
            parts.append(
                widgets.HTML(
                    "<span style='color:#555;font-size:90%'>Some destinations are stated as plain "
                    "Beta/Dirichlet parameters: edit them in the file or with "
                    "<code>model.with_parameters</code>.</span>"
                )
            )
        for row in rows:
            inputs = widgets.HBox(
                [row.best, row.low, row.high, row.credibility],
                layout=widgets.Layout(flex_flow="row wrap"),
            )
            label = widgets.HTML(
                f"&rarr; <b>{html.escape(row.to)}</b> within the window: best guess, "
                "plausible interval (from, to) and its mass"
            )
            parts.append(widgets.VBox([label, inputs, row.prior, row.error]))
        parts += [rationale, controls.error]
        box = widgets.VBox(parts, layout=widgets.Layout(border="1px solid #ddd", padding="4px"))
        box.add_class("forecast-rule")
        return box

    def _prior_rows(self, rule: str):
        key = self.model.priors_digest
        if key not in self._prior_tables:
            self._prior_tables[key] = self.model.prior_table()
        table = self._prior_tables[key]
        return table[table["rule"] == rule]

    def _prior_text(self, rule: str, to: str) -> str:
        rows = self._prior_rows(rule)
        row = rows[rows["destination"] == to]
        if row.empty:
            return ""
        r = row.iloc[0]
        return (
            f"<span style='color:#555;font-size:90%'>fitted prior: mean {r['prior_mean']:.3f}, "
            f"mass {r['prior_mass']:.2f} in [{r['stated_low']:g}, {r['stated_high']:g}]</span>"
        )

    def _on_judgement(self, row: _Row) -> None:
        if self._updating:
            return
        rows = self._prior_rows(row.rule)
        stated = rows[rows["destination"] == row.to]["credibility"]
        # the mass is written only when it changes (a file that leaves it to the default
        # keeps doing so)
        credibility = (
            None
            if not stated.empty and row.credibility.value == float(stated.iloc[0])
            else row.credibility.value
        )
        try:
            model = self.model.with_judgement(
                row.rule,
                row.to,
                best=row.best.value,
                interval=(row.low.value, row.high.value),
                credibility=credibility,
            )
        except ScenarioError as exc:
            row.error.value = _problems_html(exc)
            return
        row.error.value = ""
        self._apply(model)
        row.prior.value = self._prior_text(row.rule, row.to)

    def _on_rule(self, controls: _RuleControls, what: str) -> None:
        if self._updating:
            return
        fields: dict[str, Any] = (
            {"within_months": controls.window.value}
            if what == "window"
            else {"rationale": controls.rationale.value}
        )
        try:
            model = self.model.with_judgement(controls.rule, **fields)
        except ScenarioError as exc:
            controls.error.value = _problems_html(exc)
            return
        controls.error.value = ""
        self._apply(model)

    def _sync_controls(self) -> None:
        """Show the current model's values in every control (after undo, reset, edit)."""
        self._updating = True
        try:
            scenario = self.model.scenario
            for rule in scenario.rules:
                controls = self._controls.get(rule.name)
                if controls is None:
                    continue
                controls.window.value = rule.within_months
                controls.rationale.value = rule.spec.rationale or ""
                controls.error.value = ""
                for row in controls.rows:
                    judgement = rule.judgements[row.to]
                    row.best.value = judgement.best
                    row.low.value, row.high.value = judgement.interval
                    row.error.value = ""
                    row.prior.value = self._prior_text(rule.name, row.to)
        finally:
            self._updating = False

    def _saving(self) -> widgets.Widget:
        mode = widgets.ToggleButtons(
            options=[("as a variant file", "variant"), ("into the scenario file", "in place")],
            value="variant",
        )
        default = (
            Path(self.model.scenario.path).parent / "forecasters" / "my_priors.yaml"
            if self.model.scenario.path
            else Path("my_priors.yaml")
        )
        target = widgets.Text(value=str(default), description="file", layout={"width": "420px"})
        author = widgets.Text(value="", description="author", layout={"width": "260px"})
        when = widgets.Text(
            value="", placeholder="YYYY-MM-DD (empty: keep)", description="priors set on"
        )
        when.style.description_width = "90px"
        target.add_class("forecast-save-file")
        author.add_class("forecast-save-author")
        when.add_class("forecast-save-date")
        mode.add_class("forecast-save-mode")
        button = widgets.Button(description="Save", icon="save", button_style="primary")
        button.add_class("forecast-save")
        out = widgets.HTML()
        out.add_class("forecast-saved")

        def save(_: Any) -> None:
            try:
                path = self.save(
                    None if mode.value == "in place" else target.value,
                    author=author.value or None,
                    priors_set_on=when.value or None,
                )
            except ScenarioError as exc:
                out.value = _problems_html(exc)
            except (OSError, ValueError, TypeError) as exc:
                out.value = f"<span style='color:#b00020'>{html.escape(str(exc))}</span>"
            else:
                out.value = (
                    f"saved <code class='forecast-saved-path'>{html.escape(str(path))}</code>"
                )

        button.on_click(save)
        return widgets.VBox(
            [
                widgets.HTML("<b>Save the edits</b>"),
                mode,
                widgets.HBox([target, author]),
                widgets.HBox([when, button]),
                out,
            ]
        )

    def _redraw(self) -> None:
        if self._figure is not None:
            self._image.value = self._figure.png(self.fit)
        else:
            self._image.layout.display = "none"
        table = self.table()
        rows = "".join(
            f"<tr class='forecast-q' data-question='{html.escape(str(q))}'>"
            f"<td>{html.escape(str(q))}</td>"
            f"<td style='text-align:left'>{html.escape(str(r['text']))}</td>"
            f"<td>{r['before']:.3f}</td><td class='forecast-after'>{r['after']:.3f}</td>"
            f"<td style='color:{_change_colour(r['change'])}'>{_change_text(r['change'])}</td>"
            "</tr>"
            for q, r in table.iterrows()
        )
        self._table.value = (
            "<style>.forecast-table td, .forecast-table th {padding: 1px 6px; "
            "text-align: right}</style>"
            "<table style='font-size:90%;border-collapse:collapse'><tr><th>id</th>"
            "<th style='text-align:left'>question</th><th>before</th><th>after</th>"
            "<th>change</th></tr>"
            f"{rows}</table>"
        )

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def _change_text(change: float) -> str:
    """A change to 3 decimals, signed, with no "-0.000"."""
    return "0.000" if abs(change) < 0.0005 else f"{change:+.3f}"


def _change_colour(change: float) -> str:
    if abs(change) < 0.0005:
        return "#555"
    return "#1a7f37" if change > 0 else "#b00020"


def _css(text: str) -> str:
    """A CSS class name for a judgement (rule id and destination)."""
    return "forecast-j-" + "".join(c if c.isalnum() else "_" for c in text)


def _condition_words(model: ScenarioModel, rule) -> str:
    """The rule's condition in words: node label, the state it leaves, the parents' states."""
    scenario = model.scenario
    node = scenario.node(rule.node)
    given = "; ".join(
        f"{scenario.node(parent).label}: {' or '.join(states)}"
        for parent, states in (rule.given or {}).items()
    )
    text = f"{node.label}: from {' or '.join(rule.from_states)}"
    return f"{text}, while {given}" if given else text
