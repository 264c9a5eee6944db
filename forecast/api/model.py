"""The scenario model users hold: a scenario and its priors, edited by returning new models.

A :class:`ScenarioModel` is immutable. ``with_judgement`` and ``with_parameters`` return a new
model whose edited rule is checked exactly as the file is (the same messages) and re-elicited
by PreliZ; the compiled machinery (the fitters, their density and engine) is shared between a
model and all its edits, so an edit never compiles anything again.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forecast.api.arguments import (
    as_of_date,
    draw_count,
    folder_path,
    sampler_config,
    scenario_cutoff,
    scenario_mapping,
    scheduler_value,
    seed_value,
    whole_number,
)
from forecast.api.loading import load_scenario
from forecast.api.provenance import priors_digest
from forecast.elicitation import Priors, elicit, elicit_rule
from forecast.engine.checks import check_evidence_possible
from forecast.errors import Problem, ScenarioError
from forecast.scenario import Question, Rule, Scenario, rebuild_scenario, scenario_from_dict

if TYPE_CHECKING:
    import pandas as pd

    from forecast.analysis.evaluation import Replay
    from forecast.api.fit import Fit
    from forecast.pymc_backend.fitting import SamplerConfig, ScenarioFitter

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuleEdit:
    """One rule's entry of the scenario file, as written and as edited (spec dumps)."""

    node: str
    index: int
    before: dict[str, Any]
    after: dict[str, Any]


def _date(value: dt.date | str | None) -> dt.date | None:
    return None if value is None else as_of_date(value, "priors_set_on")


def structure_key(scenario: Scenario) -> tuple[Any, ...]:
    """What a fitter is built from: the file's hash and every rule's id and window."""
    return (scenario.hash, tuple((r.name, r.within_months) for r in scenario.rules))


class Machinery:
    """The fitters shared by a model and every model edited from it.

    One fitter per scenario structure and sampler settings; a fit with other priors only
    hands the fitter the priors (``set_priors``, no recompilation).
    """

    def __init__(self) -> None:
        self._fitters: dict[tuple[Any, ...], ScenarioFitter] = {}

    def fitter(self, scenario: Scenario, priors: Priors, sampler: SamplerConfig) -> ScenarioFitter:
        """The fitter of ``scenario`` and ``sampler``, holding ``priors``."""
        from forecast.pymc_backend.fitting import ScenarioFitter

        key = (structure_key(scenario), sampler)
        fitter = self._fitters.get(key)
        if fitter is None:
            fitter = ScenarioFitter(scenario, priors=priors, sampler=sampler)
            self._fitters[key] = fitter
        elif fitter.priors is not priors:
            fitter.set_priors(priors)
        return fitter

    @property
    def compiles(self) -> int:
        """How many sampler densities were built, over every fitter."""
        return sum(f.compiles for f in self._fitters.values())


class ScenarioModel:
    """A scenario with its priors: fit it, edit a judgement, run the analyses.

    Build one with :meth:`from_file` or :meth:`from_dict`. Every edit returns a new model.

    Examples
    --------
    >>> model = ScenarioModel.from_file("scenarios/kursk_2024.yaml")  # doctest: +SKIP
    >>> fit = model.fit(as_of="2024-09-30")  # doctest: +SKIP
    >>> edited = model.with_judgement(
    ...     "talks:none", best=0.6, interval=(0.35, 0.8))  # doctest: +SKIP
    >>> fit.compare(fit.refit(edited))  # doctest: +SKIP
    """

    __slots__ = ("_edits", "_machinery", "_origin", "_priors", "_scenario")

    def __init__(
        self,
        scenario: Scenario,
        priors: Priors | None = None,
        *,
        machinery: Machinery | None = None,
        origin: ScenarioModel | None = None,
        edits: Mapping[str, RuleEdit] | None = None,
    ) -> None:
        if not isinstance(scenario, Scenario):
            raise TypeError(
                f"scenario must be a Scenario (use ScenarioModel.from_file or from_dict), not "
                f"{type(scenario).__name__}"
            )
        self._scenario = scenario
        self._priors = priors  # elicited on first use (see the priors property)
        self._machinery = machinery or Machinery()
        self._origin = origin
        self._edits: dict[str, RuleEdit] = dict(edits or {})

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | Path) -> ScenarioModel:
        """Load and check a scenario file (every problem listed with file, field and line).

        Raises
        ------
        ScenarioError
            Listing every problem of the file.
        """
        if not isinstance(path, (str, Path)):
            raise TypeError(f"path must be a str or Path, not {type(path).__name__}")
        return cls(load_scenario(path))

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], name: str = "<dict>", folder: str | Path | None = None
    ) -> ScenarioModel:
        """Check a scenario written in code, shaped like the file (the same error reports).

        Parameters
        ----------
        data : mapping
            The scenario's fields.
        name : str
            How problems name it.
        folder : str or Path, optional
            Where relative paths (``extends``, evidence tables) start (default: the working
            directory).
        """
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        data = scenario_mapping(data, name, "data")
        folder = folder_path(folder, "folder")
        return cls(check_evidence_possible(scenario_from_dict(data, name=name, folder=folder)))

    # -- what the model is ------------------------------------------------------------------

    @property
    def scenario(self) -> Scenario:
        """The validated scenario."""
        return self._scenario

    @property
    def priors(self) -> Priors:
        """The priors of every rule, in ``scenario.rules`` order.

        Elicited from the file's judgements by PreliZ on first use. A fit asks for them only
        after it has started compiling the kernels a fresh machine lacks, so that both run at
        once (:func:`forecast.engine.compile_ahead.start`).
        """
        if self._priors is None:
            self._priors = elicit(self._scenario)
        return self._priors

    @property
    def machinery(self) -> Machinery:
        """The fitters this model shares with its edits."""
        return self._machinery

    @property
    def rules(self) -> tuple[str, ...]:
        """The id of every rule with a prior, node by node."""
        return tuple(r.name for r in self._scenario.rules)

    @property
    def priors_digest(self) -> str:
        """SHA-256 of the priors (what a saved fit is checked against)."""
        return priors_digest(self._scenario, self.priors)

    def __repr__(self) -> str:
        return (
            f"ScenarioModel({self._scenario.id!r}: {len(self._scenario.nodes)} nodes, "
            f"{len(self.rules)} rules with a prior, {len(self._scenario.questions)} questions)"
        )

    def rule(
        self,
        node: str,
        from_: str | Sequence[str] | None = None,
        given: Mapping[str, str | Sequence[str]] | None = None,
    ) -> Rule:
        """The one rule of ``node`` that applies from ``from_`` given the parents' states.

        Parameters
        ----------
        node : str
            A node.
        from_ : str or sequence of str, optional
            A state (or states) the rule applies from.
        given : mapping, optional
            Parent -> state (or states) the rule applies under.

        Raises
        ------
        KeyError
            If the node is unknown or no rule, or more than one, matches (the message lists
            the node's rules with their ids).
        """
        if node not in self._scenario.node_index:
            raise KeyError(f"no node {node!r}; nodes: {', '.join(self._scenario.node_index)}")
        wanted_from = {from_} if isinstance(from_, str) else set(from_ or ())
        wanted_given = {p: {s} if isinstance(s, str) else set(s) for p, s in (given or {}).items()}
        candidates = [r for r in self._scenario.node(node).rules if r.is_free]
        found = [
            r
            for r in candidates
            if wanted_from <= set(r.from_states)
            and all(
                p in r.given and states <= set(r.given[p]) for p, states in wanted_given.items()
            )
        ]
        if len(found) == 1:
            return found[0]
        listing = "; ".join(f"{r.name} ({r.describe()})" for r in candidates)
        what = "no rule" if not found else f"{len(found)} rules"
        raise KeyError(
            f"{what} of {node} match(es) from={from_!r}, given={given!r}; its rules: {listing}"
        )

    def _rule_by_id(self, rule_id: str) -> Rule:
        for rule in self._scenario.rules:
            if rule.name == rule_id:
                return rule
        raise KeyError(
            f"no rule with a prior has the id {rule_id!r}; the ids are: {', '.join(self.rules)}"
        )

    # -- edits ------------------------------------------------------------------------------

    def _edited(self, rule: Rule, change: Any) -> ScenarioModel:
        """A new model with one rule's entry of the file changed by ``change(entry)``."""
        if rule.node in self._scenario.spec.sources:
            file = str(self._scenario.path or self._scenario.id)
            field = (
                "reliability" if self._scenario.spec.sources[rule.node].reliability else "measures"
            )
            raise ScenarioError.single(
                file,
                f"sources.{rule.node}.{field} (rule {rule.name})",
                f"rule {rule.name} is a row of source '{rule.node}', whose rows all come "
                f"from its stated {field}",
                f"edit sources.{rule.node}.{field} in the file",
            )
        data = self._scenario.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
        entry = data["nodes"][rule.node]["transitions"][rule.index]
        # the file's entry, before any edit of this rule or of its months-in-state steps
        # (they share one entry of the file)
        sharing = [e for e in self._edits.values() if (e.node, e.index) == (rule.node, rule.index)]
        before = sharing[0].before if sharing else copy.deepcopy(entry)
        edited = entry
        if rule.months_in_state is not None and rule.months_in_state[0] > 1:
            # a step of the rule's by_months_in_state: its own judgements are edited
            steps = entry["by_months_in_state"]
            edited = next(s for s in steps if s["after"] == rule.months_in_state[0])
        change(edited)
        try:
            scenario = rebuild_scenario(self._scenario, data)
            edited_rule = next(r for r in scenario.rules if r.name == rule.name)
            prior = elicit_rule(edited_rule, str(scenario.path or scenario.id))
        except ScenarioError as exc:
            raise ScenarioError(
                [
                    Problem(p.file, f"{p.field} (rule {rule.name})", p.message, p.allowed, p.line)
                    for p in exc.problems
                ]
            ) from None
        priors = Priors(
            [prior if r.name == rule.name else self.priors[r.name] for r in scenario.rules]
        )
        edits = dict(self._edits)
        edits.pop(rule.name, None)
        if entry != before:
            edits[rule.name] = RuleEdit(rule.node, rule.index, before, copy.deepcopy(entry))
        for name, edit in list(edits.items()):  # a rule's steps: all now hold the whole entry
            if name != rule.name and (edit.node, edit.index) == (rule.node, rule.index):
                edits[name] = RuleEdit(rule.node, rule.index, before, copy.deepcopy(entry))
        return ScenarioModel(
            scenario, priors, machinery=self._machinery, origin=self.original, edits=edits
        )

    # -- edits and saving -------------------------------------------------------------------

    @property
    def original(self) -> ScenarioModel:
        """The model as loaded, before any edit (itself when unedited)."""
        return self._origin if self._origin is not None else self

    @property
    def edits(self) -> tuple[str, ...]:
        """Ids of the rules whose entries differ from the file's, in edit order."""
        return tuple(self._edits)

    def edited_entries(self) -> dict[str, RuleEdit]:
        """Each edited rule's entry as the file states it and as edited."""
        return dict(self._edits)

    def _transition_edits(self, source: Path) -> list[Any]:
        """The edits against ``source`` as it is now (a file saved before, or changed since)."""
        from forecast.scenario import TransitionEdit, read_scenario

        current = read_scenario(source)
        data = current.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
        rules = {r.name: r for r in current.rules}
        out: dict[tuple[str, int], Any] = {}  # one edit per entry (a rule and its steps share one)
        for rule_id, edit in self._edits.items():
            rule = rules.get(rule_id)
            if rule is None:
                raise ValueError(
                    f"{source}: the edited rule {rule_id} is no longer in the file (its rules: "
                    f"{', '.join(rules)})"
                )
            before = data["nodes"][rule.node]["transitions"][rule.index]
            out[(rule.node, rule.index)] = TransitionEdit(rule.node, rule.index, before, edit.after)
        return list(out.values())

    def _source_file(self) -> Path:
        path = self._scenario.path
        if path is None:
            raise ValueError("this model was not loaded from a file: use save_variant(base=...)")
        return Path(path)

    def save_in_place(self, priors_set_on: dt.date | str | None = None) -> Path:
        """Write the edits into the scenario file itself (comments, order, quotes kept).

        Parameters
        ----------
        priors_set_on : date or str, optional
            The date the edited priors are stated on (written to ``priors_set_on``); None
            keeps the file's.

        Returns
        -------
        Path
            The file, which loads back to exactly this model's priors.
        """
        from forecast.scenario import save_in_place

        source = self._source_file()
        return save_in_place(
            source, self._transition_edits(source), priors_set_on=_date(priors_set_on)
        )

    def save_variant(
        self,
        target: str | Path,
        *,
        id: str,
        author: str | None = None,
        title: str | None = None,
        priors_set_on: dt.date | str | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Write the edits as a forecaster's variant file (``extends:`` this scenario).

        Only the edited nodes' transitions are restated; everything else is read from the
        scenario file. An existing ``target`` is refused unless ``overwrite``.

        Returns
        -------
        Path
            The new file, which loads back to exactly this model's priors.
        """
        from forecast.scenario import save_variant

        return save_variant(
            self._source_file(),
            Path(target),
            self._transition_edits(self._source_file()),
            id=id,
            author=author,
            title=title,
            priors_set_on=_date(priors_set_on),
            overwrite=overwrite,
        )

    def with_judgement(
        self,
        rule_id: str,
        to: str | None = None,
        *,
        best: float | None = None,
        interval: tuple[float, float] | None = None,
        credibility: float | None = None,
        within_months: int | None = None,
        rationale: str | None = None,
    ) -> ScenarioModel:
        """A model with one judgement restated, in the terms the file states it.

        Fields left out keep their values. The rule is checked as the file is and re-elicited
        by PreliZ (maximum-entropy Beta with mean ``best`` and mass ``credibility`` in
        ``interval``).

        Parameters
        ----------
        rule_id : str
            The rule's id (see :attr:`rules`, :meth:`rule`).
        to : str, optional
            The destination judged (needed when the rule has several).
        best : float, optional
            Best guess of moving to ``to`` within the rule's window.
        interval : (float, float), optional
            Plausible interval of that probability.
        credibility : float, optional
            Mass of the interval.
        within_months : int, optional
            The rule's window in months.
        rationale : str, optional
            A new one-line rationale.

        Raises
        ------
        KeyError
            For an unknown rule or destination.
        ScenarioError
            For values a file could not hold (the file's messages, naming the rule).
        """
        rule = self._rule_by_id(rule_id)
        if rule.spec.dirichlet is not None and (best, interval, credibility) != (None,) * 3:
            raise ValueError(
                f"rule {rule_id} is stated as plain Dirichlet parameters, not judgements; "
                f"use with_parameters({rule_id!r}, dirichlet={{...}})"
            )
        destinations = list(rule.destinations)
        if to is None:
            if len(destinations) > 1 and (best, interval, credibility) != (None,) * 3:
                raise KeyError(
                    f"rule {rule_id} has destinations {', '.join(destinations)}: name one with to="
                )
            to = destinations[0]
        if to not in destinations:
            raise KeyError(
                f"rule {rule_id} has no destination {to!r}; destinations: {', '.join(destinations)}"
            )

        def change(entry: dict[str, Any]) -> None:
            if within_months is not None:
                entry["within_months"] = within_months
            if rationale is not None:
                entry["rationale"] = rationale
            if (best, interval, credibility) == (None,) * 3:
                return
            judgement = dict(entry["to"][to])
            if "beta" in judgement:  # restated as a judgement: the plain parameters go
                judgement.pop("beta")
            if best is not None:
                judgement["best"] = best
            if interval is not None:
                judgement["interval"] = list(interval) if isinstance(interval, tuple) else interval
            if credibility is not None:
                judgement["credibility"] = credibility
            entry["to"][to] = judgement

        return self._edited(rule, change)

    def with_parameters(
        self,
        rule_id: str,
        *,
        beta: tuple[float, float] | None = None,
        dirichlet: Mapping[str, float] | None = None,
    ) -> ScenarioModel:
        """A model with one rule's prior given as plain parameters.

        Parameters
        ----------
        rule_id : str
            The rule's id.
        beta : (float, float), optional
            ``Beta(alpha, beta)`` of the probability of moving to the rule's one destination
            within its window (as ``beta: [alpha, beta]`` in the file).
        dirichlet : mapping, optional
            ``{"stay": a0, destination: a1, ...}`` over staying and every destination.
        """
        rule = self._rule_by_id(rule_id)
        if (beta is None) == (dirichlet is None):
            raise ValueError("give exactly one of beta=(alpha, beta) or dirichlet={stay: ..., ...}")
        destinations = list(rule.destinations)
        if beta is not None and len(destinations) != 1:
            raise ValueError(
                f"beta= needs a rule with one destination; {rule_id} has "
                f"{', '.join(destinations)}: use dirichlet={{'stay': ..., ...}}"
            )

        def change(entry: dict[str, Any]) -> None:
            if beta is not None:
                entry.pop("dirichlet", None)
                entry["to"] = {destinations[0]: {"beta": list(beta)}}
            else:
                entry["to"] = {}
                entry["dirichlet"] = dict(dirichlet or {})

        return self._edited(rule, change)

    # -- tables and fits --------------------------------------------------------------------

    def prior_table(self) -> pd.DataFrame:
        """Every judgement as stated next to the fitted prior's mean and interval mass."""
        from forecast.analysis.summaries import prior_table

        return prior_table(self._scenario, self.priors)

    def fitter(self, sampler: SamplerConfig | Mapping[str, Any] | None = None) -> ScenarioFitter:
        """The shared fitter of this model's structure, holding this model's priors."""
        from forecast.engine import compile_ahead

        config = sampler_config(sampler)
        # a fresh machine compiles the smoothing passes in a second process meanwhile
        compile_ahead.start()
        return self._machinery.fitter(self._scenario, self.priors, config)

    def prior_predictive(
        self,
        seed: int | None = None,
        draws: int | None = None,
        sampler: SamplerConfig | Mapping[str, Any] | None = None,
    ) -> Fit:
        """Every question and marginal implied by the priors alone (exact, per prior draw).

        Parameters
        ----------
        seed : int, optional
            Seed of the prior draws (default: the package's seed).
        draws : int, optional
            Number of draws (default: chains x draws of ``sampler``, as many as a fit has).
        sampler : SamplerConfig or mapping, optional
            The settings whose fitter (shared with fits of the same settings) draws them.
        """
        from forecast.api.fit import Fit

        seed = seed_value(seed)
        size = None if draws is None else draw_count(draws, "draws")
        fitter = self.fitter(sampler)
        idata = fitter.prior_draws(seed, size)
        return Fit(self, idata, as_of=None, seed=seed, sampler=fitter.sampler, method="prior")

    def fit(
        self,
        as_of: dt.date | str | None = None,
        seed: int | None = None,
        sampler: SamplerConfig | Mapping[str, Any] | None = None,
        progressbar: bool = False,
    ) -> Fit:
        """Sample the posterior given the evidence reported by ``as_of`` (None: all of it).

        Parameters
        ----------
        as_of : date or str, optional
            Evidence cut-off, a date or ``"YYYY-MM-DD"``.
        seed : int, optional
            Seed (default: the package's seed).
        sampler : SamplerConfig or mapping, optional
            NUTS settings (default: :mod:`forecast.settings`).
        progressbar : bool
            Show the sampler's progress bar.
        """
        from forecast.api.fit import Fit

        cutoff = scenario_cutoff(as_of, self._scenario)
        seed = seed_value(seed)
        config = sampler_config(sampler)
        fitter = self.fitter(config)
        idata = fitter.fit(as_of=cutoff, seed=seed, progressbar=progressbar)
        return Fit(self, idata, as_of=cutoff, seed=seed, sampler=config, method="nuts")

    def read_questions(self, path: str | Path) -> tuple[Question, ...]:
        """Resolved questions from a CSV (``id,node,state,kind,date,outcome``).

        Checked against this scenario: every problem with file, column and line.
        """
        from forecast.analysis.evaluation import read_questions

        return read_questions(path, self._scenario)

    def score(
        self,
        questions: str | Path | Sequence[Question] | None = None,
        as_of: dt.date | str | None = None,
        lead_months: int | None = None,
        backtest: Replay | None = None,
        draws: int | None = None,
        seed: int | None = None,
    ) -> pd.DataFrame:
        """Brier and log scores of resolved questions, forecast from the evidence of a date.

        Each question is forecast from the evidence known at ``as_of`` (or ``lead_months``
        before its date).

        Parameters
        ----------
        questions : path or sequence of Question, optional
            A questions CSV or :meth:`read_questions` output (default: the scenario's own
            resolved questions).
        as_of : date or str, optional
            Cut-off of every forecast (None with ``lead_months`` None: all the evidence).
        lead_months : int, optional
            Forecast each question this many months before its date instead.
        backtest : Replay, optional
            A :meth:`backtest` to re-use (its draws and seed); default: a new one.
        draws, seed
            Of the new backtest.
        """
        from forecast.analysis.evaluation import score_questions

        if isinstance(questions, (str, Path)):
            questions = self.read_questions(questions)
        replay = backtest or self.backtest(draws=draws, seed=seed)
        return score_questions(
            self._scenario,
            questions,
            as_of=scenario_cutoff(as_of, self._scenario),
            lead_months=lead_months,
            replay=replay,
        )

    def network(self, months: int | None = None) -> Any:
        """The scenario as a ``pyagrum.BayesNet`` with every rule at its prior mean.

        A static scenario is its network; any other is unrolled month by month up to
        ``months`` (default: all), see :mod:`forecast.engine.export`.
        """
        from forecast.engine.export import scenario_network

        return scenario_network(self._scenario, [r.mean for r in self.priors.rules], months)

    def backtest(
        self,
        draws: int | None = None,
        seed: int | None = None,
        method: str = "is",
        sampler: SamplerConfig | Mapping[str, Any] | None = None,
        scheduler: str | None = "sync",
        workers: int = 2,
        progress: bool = False,
    ) -> Replay:
        """The forecast as of every month end, each from the evidence known then.

        ``method="is"`` re-weights one set of ``draws`` prior draws (default: the
        backtest's, 4000) by the exact likelihood of each cut-off; ``"nuts"`` fits each
        cut-off (with ``sampler``). The result's ``table(dates)`` gives every question's
        forecast by cut-off.

        With ``"nuts"``, ``scheduler`` says where the fits run when several are needed:
        ``"sync"`` (default) one after another in this process, None a new Dask
        ``LocalCluster`` of ``workers`` processes (each compiles the model once), else the
        address of a running Dask scheduler; ``progress`` shows a bar meanwhile.
        """
        from forecast.analysis.evaluation import Replay

        seed = seed_value(seed)
        if method == "nuts":
            return Replay(
                self._scenario,
                method="nuts",
                fitter=self.fitter(sampler),
                seed=seed,
                priors=self.priors,
                scheduler=scheduler_value(scheduler),
                workers=whole_number(workers, "workers", minimum=1),
                progress=bool(progress),
            )
        if method != "is":
            raise ValueError(f"method must be 'is' or 'nuts', not {method!r}")
        size = None if draws is None else draw_count(draws, "draws")
        return Replay(self._scenario, draws=size, seed=seed, priors=self.priors)
