"""The scenario file's schema: what a forecaster may write, checked field by field with pydantic.

Cross-field rules (parents that exist, acyclic months, rules that cover every parent
configuration, ...) live in :mod:`forecast.scenario.semantics`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveInt,
    StringConstraints,
    field_validator,
    model_validator,
)

from forecast.settings import (
    DEFAULT_CREDIBILITY,
    MAX_CONCENTRATION,
    MAX_MONTHS_IN_STATE,
    MAX_REFERENCE_N,
    MAX_WITHIN_MONTHS,
    MAX_YEAR,
    MIN_YEAR,
    PROBABILITY_SUM_TOLERANCE,
)


def _no_bool(allowed: str) -> BeforeValidator:
    """Refuse ``true``/``false`` where a number belongs (pydantic would read them as 1 and 0)."""

    def refuse(value: object) -> object:
        if isinstance(value, bool):
            raise SpecValueError(
                f"{str(value).lower()} is a boolean, not a number",
                f"{allowed} (YAML reads true and false as booleans)",
            )
        return value

    return BeforeValidator(refuse)


def _a_date(value: object) -> object:
    """Refuse numbers and booleans where a date belongs, and dates outside the calendar.

    Pydantic would read a number as seconds since 1970 (``20240210`` as 1970-08-23).
    """
    if isinstance(value, bool | int | float):
        raise SpecValueError(
            f"{str(value).lower() if isinstance(value, bool) else value!r} is not a date",
            "a date YYYY-MM-DD (YAML reads 20240210 or true as a number or a boolean)",
        )
    if isinstance(value, dt.date) and not MIN_YEAR <= value.year <= MAX_YEAR:
        raise SpecValueError(
            f"the year {value.year} is outside the calendar's range",
            f"a date in the years {MIN_YEAR} to {MAX_YEAR}",
        )
    return value


def _a_month(value: object) -> object:
    """A YAML date read where a month belongs becomes its month; numbers are refused."""
    if isinstance(value, bool | int | float):
        raise SpecValueError(
            f"{str(value).lower() if isinstance(value, bool) else value!r} is not a month",
            "a month YYYY-MM, e.g. 2024-01 (in quotes if need be)",
        )
    if isinstance(value, dt.date):
        value = f"{value.year:04d}-{value.month:02d}"
    if isinstance(value, str) and re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        if not MIN_YEAR <= int(value[:4]) <= MAX_YEAR:
            raise SpecValueError(
                f"the year {int(value[:4])} is outside the calendar's range",
                f"a month YYYY-MM in the years {MIN_YEAR} to {MAX_YEAR}",
            )
    return value


Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
Month = Annotated[
    str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$"), BeforeValidator(_a_month)
]
Date = Annotated[dt.date, BeforeValidator(_a_date)]
OpenUnit = Annotated[
    float,
    Field(gt=0.0, lt=1.0, allow_inf_nan=False),
    _no_bool("a number greater than 0 and less than 1"),
]
Concentration = Annotated[
    float,
    Field(gt=0.0, le=MAX_CONCENTRATION, allow_inf_nan=False),
    _no_bool(f"a number greater than 0 and at most {MAX_CONCENTRATION:.0f}"),
]
Probability = Annotated[
    float, Field(ge=0.0, le=1.0, allow_inf_nan=False), _no_bool("a number from 0 to 1")
]
Reading = Annotated[float, _no_bool("a number")]
Weight = Annotated[
    float,
    Field(ge=0.0, le=1e12, allow_inf_nan=False),
    _no_bool("a number from 0 to 1e12 (only the ratios between states matter)"),
]
Amount = Annotated[
    float,
    Field(ge=0.0, le=1e15, allow_inf_nan=False),
    _no_bool("a number from 0 to 1e15"),
]
Count = Annotated[
    int, Field(ge=0, le=MAX_REFERENCE_N), _no_bool(f"a whole number from 0 to {MAX_REFERENCE_N}")
]
Cases = Annotated[
    PositiveInt,
    Field(le=MAX_REFERENCE_N),
    _no_bool(f"a whole number from 1 to {MAX_REFERENCE_N}"),
]
Months = Annotated[
    PositiveInt,
    Field(le=MAX_WITHIN_MONTHS),
    _no_bool(f"a whole number of months from 1 to {MAX_WITHIN_MONTHS}"),
]
Lag = Annotated[Literal[0, 1], _no_bool("0 (same month) or 1 (last month)")]
Binary = Annotated[Literal[0, 1], _no_bool("0 (did not happen) or 1 (happened)")]
StateSet = Name | Annotated[list[Name], Field(min_length=1)]

DEFAULT_STATES = {"no": "the event has not happened", "yes": "the event has happened"}


class SpecValueError(ValueError):
    """A broken cross-field rule of the schema, with what would be accepted instead.

    Parameters
    ----------
    message : str
        What is wrong.
    allowed : str
        What would be accepted instead; the loader shows it as the problem's allowed text.
    """

    def __init__(self, message: str, allowed: str) -> None:
        super().__init__(message)
        self.allowed = allowed


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class SourceRef(_Strict):
    """Where the scenario's argument comes from."""

    citation: Text
    url: str = ""


class Judgement(_Strict):
    """A forecaster's judgement of one N-month transition probability.

    Either a best guess with an interval at a credibility (converted to a Beta with PreliZ's
    maximum-entropy fit), or plain Beta parameters.
    """

    best: OpenUnit | None = None
    interval: tuple[OpenUnit, OpenUnit] | None = None
    credibility: OpenUnit | None = None
    beta: tuple[Concentration, Concentration] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Judgement:
        stated = self.best is not None or self.interval is not None
        if self.beta is not None and stated:
            raise SpecValueError(
                "give either best and interval, or beta: [alpha, beta], not both",
                "best: 0.3, interval: [0.1, 0.6] (optionally credibility), or beta: [2, 5]",
            )
        if self.beta is None:
            if self.best is None or self.interval is None:
                raise SpecValueError(
                    "a judgement needs best (0-1) and interval [lo, hi], or beta: [alpha, beta]",
                    "best: 0.3, interval: [0.1, 0.6] (optionally credibility), or beta: [2, 5]",
                )
            lo, hi = self.interval
            if not lo < hi:
                raise SpecValueError(
                    f"interval [{lo}, {hi}] must have lo < hi",
                    "an interval [lo, hi] with lo < best < hi",
                )
            if not lo < self.best < hi:
                raise SpecValueError(
                    f"the interval [{lo}, {hi}] must contain the best guess {self.best} strictly",
                    "an interval [lo, hi] with lo < best < hi",
                )
        elif self.credibility is not None:
            raise SpecValueError(
                "credibility goes with an interval, not with plain beta parameters",
                "credibility only next to best and interval",
            )
        return self


class ReferenceClass(_Strict):
    """Counts of comparable historical cases: k of n saw the transition within N months."""

    n: Cases
    counts: dict[Name, Count]
    description: Text
    source: Text

    @model_validator(mode="after")
    def _counts_fit(self) -> ReferenceClass:
        if sum(self.counts.values()) > self.n:
            raise SpecValueError(
                f"the counts add up to {sum(self.counts.values())}, more than n = {self.n} cases",
                f"counts of cases that add up to at most n = {self.n}",
            )
        return self


def _check_probabilities(values: dict[str, float]) -> dict[str, float]:
    """Fixed probabilities over ``stay`` and at least one destination, adding up to 1."""
    allowed = (
        "probabilities over 'stay' and the destinations that add up to 1, e.g. "
        "probabilities: {stay: 0.9, yes: 0.1}"
    )
    moves = [d for d in values if d != "stay"]
    if not moves:
        raise SpecValueError("fixed probabilities need at least one destination", allowed)
    total = math.fsum(values.values())
    if abs(total - 1.0) > PROBABILITY_SUM_TOLERANCE:
        raise SpecValueError(f"the probabilities add up to {total:.12g}, not 1", allowed)
    return values


def _check_room_to_stay(to: dict[str, Judgement]) -> None:
    """Best guesses over several destinations must leave room for staying."""
    total = sum(j.best for j in to.values() if j.best is not None)
    if total >= 1.0:
        raise SpecValueError(
            f"the best guesses of the destinations add up to {total:.3g}; "
            "they must leave room for staying (sum < 1)",
            "best guesses over the destinations that add up to less than 1",
        )


class DurationStep(_Strict):
    """From ``after`` months in the from-state on, the rule's moves are given anew.

    As ``to`` (judged) or ``probabilities`` (fixed, over ``stay`` and the destinations).
    """

    after: Annotated[
        int,
        Field(ge=2, le=MAX_MONTHS_IN_STATE),
        _no_bool(f"a whole number of months from 2 to {MAX_MONTHS_IN_STATE}"),
    ]
    to: dict[Name, Judgement] = Field(default_factory=dict)
    probabilities: dict[Name, Probability] | None = None
    rationale: Text | None = None

    @model_validator(mode="after")
    def _one_form(self) -> DurationStep:
        if bool(self.to) == (self.probabilities is not None):
            raise SpecValueError(
                "a step needs exactly one of: to (judgements per destination state) or "
                "probabilities (fixed values over 'stay' and the destinations)",
                "to: {<destination>: {best: ..., interval: [..., ...]}} or "
                "probabilities: {stay: ..., <destination>: ...}",
            )
        if self.probabilities is not None:
            _check_probabilities(self.probabilities)
        if len(self.to) > 1:
            _check_room_to_stay(self.to)
        return self

    @property
    def destinations(self) -> list[str]:
        """Destination states, in the order written."""
        if self.probabilities is not None:
            return [s for s in self.probabilities if s != "stay"]
        return list(self.to)


class TransitionRule(_Strict):
    """How a node leaves a state, for the parent configurations that ``given`` selects.

    ``id`` names the rule's parameter; without it the id is derived from the node, ``from``
    and ``given`` (:func:`forecast.scenario.validated.rule_id`).

    A rule without ``from`` is memoryless: it gives the node's distribution this month,
    whatever its state last month, for the parent configurations it selects. Its ``to``
    names every state but one (which takes the rest), its ``dirichlet`` or
    ``probabilities`` name every state (no ``stay``), and ``within_months`` is 1.
    """

    from_: StateSet | None = Field(default=None, alias="from")
    given: dict[Name, StateSet] = Field(default_factory=dict)
    within_months: Months = 1
    to: dict[Name, Judgement] = Field(default_factory=dict)
    dirichlet: dict[Name, Concentration] | None = None
    probabilities: dict[Name, Probability] | None = None
    stays: Annotated[bool, Field(strict=True)] = False
    credibility: OpenUnit = DEFAULT_CREDIBILITY
    rationale: Text
    reference_class: ReferenceClass | None = None
    id: Name | None = None
    by_months_in_state: list[DurationStep] = Field(default_factory=list, max_length=12)

    @field_validator("id", mode="before")
    @classmethod
    def _id_is_a_name(cls, value: object) -> object:
        allowed = (
            "a name of letters, digits and _ that starts with a letter (in quotes if YAML "
            "reads it otherwise, e.g. id: 'true'), or no id for the derived one"
        )
        if isinstance(value, bool):
            raise SpecValueError("a rule id must be a name, not true or false", allowed)
        if isinstance(value, int | float):
            raise SpecValueError("a rule id must be a name, not a number", allowed)
        if isinstance(value, list | dict):
            raise SpecValueError("a rule id must be a name, not a list or mapping", allowed)
        if isinstance(value, str) and ":" in value:
            raise SpecValueError(
                "a written id cannot have the form of a derived id "
                "(<node>:<from>[<parent>=<states>,...]), which a rule gets only when it has no id",
                allowed,
            )
        return value

    @model_validator(mode="after")
    def _one_form(self) -> TransitionRule:
        forms = [bool(self.to), self.dirichlet is not None, self.probabilities is not None]
        if sum([*forms, self.stays]) != 1:
            raise SpecValueError(
                "a rule needs exactly one of: to (judgements per destination state), "
                "dirichlet (plain parameters over 'stay' and the destinations), "
                "probabilities (fixed values over 'stay' and the destinations), or stays: true",
                "one of to: {...}, dirichlet: {stay: ..., ...}, probabilities: {stay: ..., ...} "
                "or stays: true",
            )
        if self.from_ is None:
            self._memoryless_form()
            return self
        if self.dirichlet is not None and "stay" not in self.dirichlet:
            raise SpecValueError(
                "dirichlet parameters need a 'stay' entry besides the destinations",
                "dirichlet: {stay: 3, <destination>: 1, ...}",
            )
        if self.dirichlet is not None and len(self.dirichlet) < 2:
            raise SpecValueError(
                "dirichlet parameters need 'stay' and at least one destination",
                "dirichlet: {stay: 3, <destination>: 1, ...}",
            )
        if self.reference_class is not None and (self.stays or self.probabilities is not None):
            raise SpecValueError(
                "a reference class informs a prior: it needs a rule with to or dirichlet, not "
                + ("stays: true" if self.stays else "fixed probabilities"),
                "reference_class only on a rule with to or dirichlet",
            )
        if len(self.to) > 1:
            _check_room_to_stay(self.to)
        return self

    def _memoryless_form(self) -> None:
        """A rule without ``from``: this month's distribution over the node's states."""
        if self.stays:
            raise SpecValueError(
                "a rule without from gives this month's distribution; it cannot stay",
                "from: <state> with stays: true, or a distribution over the node's states",
            )
        if self.within_months != 1:
            raise SpecValueError(
                f"a rule without from gives this month's distribution, so within_months "
                f"({self.within_months}) does not apply",
                "no within_months on a rule without from (its probabilities are per month)",
            )
        for field in ("dirichlet", "probabilities"):
            written = getattr(self, field)
            if written is not None and "stay" in written:
                raise SpecValueError(
                    f"a rule without from has no 'stay': its {field} go over the node's states",
                    f"{field} over every state of the node, e.g. {field}: {{no: 3, yes: 1}}",
                )
            if written is not None and len(written) < 2:
                raise SpecValueError(
                    f"a rule without from needs its {field} over every state of the node",
                    f"{field} over every state of the node, e.g. {field}: {{no: 3, yes: 1}}",
                )

    @property
    def memoryless(self) -> bool:
        """Whether the rule has no ``from``: this month's distribution, whatever last month's."""
        return self.from_ is None

    @field_validator("probabilities")
    @classmethod
    def _probabilities_add_up(cls, values: dict[str, float] | None) -> dict[str, float] | None:
        return None if values is None else _check_probabilities(values)

    @property
    def from_states(self) -> list[str]:
        """The states this rule applies to, as a list (empty without ``from``: every state)."""
        if self.from_ is None:
            return []
        return [self.from_] if isinstance(self.from_, str) else list(self.from_)

    @property
    def destinations(self) -> list[str]:
        """Destination states, in the order written."""
        for written in (self.dirichlet, self.probabilities):
            if written is not None:
                return [s for s in written if s != "stay"]
        return list(self.to)


class ConditionalTable(_Strict):
    """A node's fixed table, one row per parent configuration (a Bayesian network's CPT).

    Each row lists the parents' states (in the order of the node's ``parents``), then the
    probability of each of the node's states (in the order of its ``states``). The node is
    memoryless: its state this month depends on its parents only, not on its own last state.
    The values are checked against the nodes in :mod:`forecast.scenario.semantics`.
    """

    rows: list[list[Any]] = Field(min_length=1)
    rationale: Text


class NodeSpec(_Strict):
    """A discrete node of the causal scenario."""

    label: Text | None = None
    description: Text
    states: dict[Name, Text] = Field(default_factory=lambda: dict(DEFAULT_STATES))
    claims: list[Text] = Field(default_factory=list)
    parents: dict[Name, Lag] = Field(default_factory=dict)
    initial: Name | dict[Name, Probability]
    absorbing: list[Name] = Field(default_factory=list)
    transitions: list[TransitionRule] = Field(default_factory=list)
    cpt: ConditionalTable | None = None
    months_in_state: PositiveInt = 1

    @model_validator(mode="after")
    def _table_or_rules(self) -> NodeSpec:
        if self.cpt is not None and self.transitions:
            raise SpecValueError(
                "a node has either transitions or a cpt (its fixed table), not both",
                "transitions: [...] for a node with memory, or cpt: {rows: [...]} for a fixed, "
                "memoryless table",
            )
        if self.cpt is not None and self.absorbing:
            raise SpecValueError(
                "a node with a cpt is memoryless: it has no absorbing states",
                "no absorbing list next to cpt",
            )
        return self

    @field_validator("states", mode="before")
    @classmethod
    def _states_as_mapping(cls, value: object) -> object:
        if isinstance(value, list):
            twice = sorted({str(s) for s in value if value.count(s) > 1})
            if twice:
                raise SpecValueError(f"state(s) {', '.join(twice)} listed twice", "each state once")
            return {str(s): str(s) for s in value}
        return value

    @field_validator("states")
    @classmethod
    def _at_least_two(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) < 2:
            raise SpecValueError(
                "a node needs at least two states", "two or more states, e.g. [no, yes]"
            )
        return value

    @field_validator("parents", mode="before")
    @classmethod
    def _parents_as_mapping(cls, value: object) -> object:
        if isinstance(value, list):
            return dict.fromkeys(value, 1)
        return value


class Observation(_Strict):
    """A dated observation of a node, with its citation.

    Hard evidence names the states the node was in (``state``); soft evidence gives a
    likelihood weight to every state (``likelihood``, as pgmpy's virtual evidence and GeNIe's
    soft evidence). ``reported_by`` names a declared source (``sources:``) whose report this
    is: it then informs the node through the source's reliability instead of as the truth.
    """

    node: Name
    date: Date
    state: StateSet | None = None
    likelihood: dict[Name, Weight] | None = None
    source: Text
    reported_by: Name | None = None
    reported: Date | None = None
    note: str = ""

    @model_validator(mode="after")
    def _reported_after(self) -> Observation:
        if self.reported is not None and self.reported < self.date:
            raise SpecValueError(
                f"reported {self.reported} is before the date observed {self.date}; "
                "a state cannot be reported before it happens",
                "a reported date on or after the date observed",
            )
        if (self.state is None) == (self.likelihood is None):
            both = ", not both" if self.state is not None else ""
            raise SpecValueError(
                f"an observation needs state (hard evidence) or likelihood (soft evidence){both}",
                "state: a state or a list of states, or likelihood: {state: weight, ...} "
                "naming every state of the node",
            )
        if self.likelihood is not None and not any(w > 0 for w in self.likelihood.values()):
            raise SpecValueError(
                "every weight of the likelihood is 0: no state could have been observed",
                "a weight of at least 0 for every state, one of them above 0",
            )
        return self

    @property
    def known_on(self) -> dt.date:
        """The date the observation became known: ``reported``, else ``date``."""
        return self.reported or self.date

    @property
    def states(self) -> list[str]:
        """Observed states as a list (for soft evidence, the states of positive weight)."""
        if self.likelihood is not None:
            return [s for s, w in self.likelihood.items() if w > 0]
        if self.state is None:
            return []
        return [self.state] if isinstance(self.state, str) else list(self.state)


class Spread(_Strict):
    """A positive quantity's median and interval (at the measure's credibility)."""

    median: Amount
    interval: tuple[Amount, Amount]

    @model_validator(mode="after")
    def _ordered(self) -> Spread:
        lo, hi = self.interval
        if not (lo < self.median < hi and self.median > 0):
            raise SpecValueError(
                f"median {self.median:g} must lie inside the interval [{lo:g}, {hi:g}] "
                "and be above 0",
                "median: 700, interval: [250, 1300] (lo < median < hi, median > 0)",
            )
        return self


class Measure(_Strict):
    """What a source's numeric readings look like in each state of the node it measures.

    Per state, the reading is log-normal with the stated median and interval, times the
    source's ``bias`` (a factor with its own median and interval, 1 when absent). Readings are
    counted on the grid cut at ``edges`` (values below the first edge, between edges, from the
    last edge up); each state's distribution over that grid is learnt in the fit from a
    Dirichlet prior whose mean is the log-normal's and whose weight is ``strength`` readings.
    """

    unit: Text | None = None
    edges: list[Amount] = Field(min_length=1, max_length=40)
    by_state: dict[Name, Spread]
    bias: Spread | None = None
    strength: Annotated[float, Field(gt=0.0, le=1e4, allow_inf_nan=False)] = 20.0
    credibility: OpenUnit = 0.9

    @field_validator("edges")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        if any(b <= a for a, b in itertools.pairwise(value)) or value[0] <= 0:
            raise SpecValueError(
                f"edges {value} must be above 0 and increasing",
                "edges: [1, 100, 500, 1000] (each larger than the one before)",
            )
        return value


class SourceSpec(_Strict):
    """An evidence source that reports a node's state, or measures a quantity that tracks it.

    With ``reliability``, its reports name a state: right with that probability (stated as a
    judgement and learnt in the fit), else equally likely any other state; each true state
    gets its own row of that table (learnt apart), all with the same prior. With
    ``measures``, its readings are numbers (a ``series`` reported by it) whose distribution
    in each state is a :class:`Measure`.
    """

    label: Text | None = None
    reports_on: Name
    reliability: Judgement | None = None
    measures: Measure | None = None
    rationale: Text

    @model_validator(mode="after")
    def _stated(self) -> SourceSpec:
        if (self.reliability is None) == (self.measures is None):
            raise SpecValueError(
                "a source needs exactly one of reliability (its reports name a state) and "
                "measures (its readings are numbers)",
                "reliability: {best: 0.9, interval: [0.75, 0.97]}, or measures: {edges: [...], "
                "by_state: {<state>: {median: ..., interval: [lo, hi]}, ...}}",
            )
        if self.reliability is not None and self.reliability.beta is not None:
            raise SpecValueError(
                "a source's reliability is stated as best and interval, not as beta",
                "reliability: {best: 0.9, interval: [0.75, 0.97]} (optionally credibility)",
            )
        return self


class Bin(_Strict):
    """Values in ``[min, max)`` map to ``state``."""

    state: Name
    min: Reading = float("-inf")
    max: Reading = float("inf")

    @model_validator(mode="after")
    def _ordered(self) -> Bin:
        if not self.min < self.max:
            raise SpecValueError(f"bin for '{self.state}' needs min < max", "a bin with min < max")
        return self


class SeriesEvidence(_Strict):
    """A numeric CSV series, one reading per month.

    Binned into a node's states, or the readings of a measuring source (``reported_by`` a
    source with ``measures``, and no bins).
    """

    file: Text
    node: Name
    value_column: Name
    date_column: Name = "date"
    source_columns: list[Name] = Field(default_factory=lambda: ["source_name", "url"])
    include: dict[Name, str] = Field(default_factory=dict)
    bins: list[Bin] = Field(default_factory=list)
    per_month: Literal["last", "first"] = "last"
    reported_by: Name | None = None
    rationale: Text

    @field_validator("include")
    @classmethod
    def _regexes(cls, value: dict[str, str]) -> dict[str, str]:
        for column, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise SpecValueError(
                    f"include pattern for '{column}' is not a regex: {exc}",
                    "a Python regular expression",
                ) from exc
        return value


class EvidenceSpec(_Strict):
    """All evidence of a scenario: inline observations, CSV tables and binned series."""

    observations: list[Observation] = Field(default_factory=list)
    tables: list[Text] = Field(default_factory=list)
    series: list[SeriesEvidence] = Field(default_factory=list)


class Resolution(_Strict):
    """How a question resolved."""

    outcome: Binary
    resolved_on: Date
    source: Text


class QuestionSpec(_Strict):
    """A dated forecast question about one node."""

    id: Name
    text: Text
    node: Name
    state: StateSet
    date: Date
    kind: Literal["in_state", "reached"] = "in_state"
    window_start: Date | None = None
    resolution: Resolution | None = None

    @model_validator(mode="after")
    def _window(self) -> QuestionSpec:
        if self.window_start is not None:
            if self.kind != "reached":
                raise SpecValueError(
                    "window_start only goes with kind: reached",
                    "kind: reached with window_start, or no window_start",
                )
            if self.window_start > self.date:
                raise SpecValueError(
                    f"window_start {self.window_start} is after date {self.date}",
                    "a window_start on or before the question's date",
                )
        return self

    @property
    def states(self) -> list[str]:
        """Target states as a list."""
        return [self.state] if isinstance(self.state, str) else list(self.state)


class OutcomeSpec(_Strict):
    """A negotiated (or other headline) outcome reported in the forecast table by date."""

    id: Name
    label: Text
    node: Name
    state: StateSet
    kind: Literal["in_state", "reached"] = "reached"


class ScenarioSpec(_Strict):
    """A whole scenario file."""

    id: Name
    title: Text
    source: SourceRef
    author: Text
    priors_set_on: Date
    time_step: Literal["month"] = "month"
    start: Month
    horizon: Month
    nodes: dict[Name, NodeSpec] = Field(min_length=1)
    sources: dict[Name, SourceSpec] = Field(default_factory=dict)
    evidence: EvidenceSpec = Field(default_factory=EvidenceSpec)
    questions: list[QuestionSpec] = Field(default_factory=list)
    outcomes: list[OutcomeSpec] = Field(default_factory=list)
    report_dates: list[Date] = Field(default_factory=list)
