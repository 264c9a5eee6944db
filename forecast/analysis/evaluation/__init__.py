"""Evaluation of forecasts: month-by-month backtests and scores of resolved questions."""

from forecast.analysis.evaluation.backtest import (
    Cutoff,
    Replay,
    evidence_arrivals,
    largest_moves,
    replay,
    replay_dates,
)
from forecast.analysis.evaluation.scoring import (
    brier_score,
    calibration_table,
    lead_as_of,
    log_score,
    read_questions,
    resolved_questions,
    score_questions,
    score_summary,
    skill_score,
)

__all__ = [
    "Cutoff",
    "Replay",
    "brier_score",
    "calibration_table",
    "evidence_arrivals",
    "largest_moves",
    "lead_as_of",
    "log_score",
    "read_questions",
    "replay",
    "replay_dates",
    "resolved_questions",
    "score_questions",
    "score_summary",
    "skill_score",
]
