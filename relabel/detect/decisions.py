"""The records of the decision step and what a run says about them.

:class:`Decisions` is what the noisy-channel rule (:func:`relabel.detect.decide.decide_labels`)
returns, with the ``decisions`` section of ``summary.json`` and the warnings it holds
(:func:`decision_notes`); :class:`DecisionResult` is what :func:`relabel.detect.decide.decide`
returns, the rule's decisions with the flags' reasons; :func:`hold_for_review` and
:func:`withhold_changes` take automatic changes back from one. The rule itself and its constants
are in :mod:`relabel.detect.decide`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from relabel.detect.calibrate import Calibration
from relabel.errors import option

#: below this skill (1 - CE / H) the signals are judged unable to separate the classes
#: (:mod:`relabel.detect.decide`, "Self-diagnosis")
MIN_SKILL = 0.15


@dataclass(frozen=True)
class Decisions:
    """What the decision step returns (one row per example unless stated).

    Attributes
    ----------
    flagged : np.ndarray
        ``(N,)`` bool, for human review.
    suggested : np.ndarray
        ``(N,)`` int class code applied automatically, -1 where relabel abstains.
    confidence : np.ndarray
        ``(N,)`` float, estimated probability that the suggestion is right (NaN without one).
    alternative : np.ndarray
        ``(N,)`` int most probable true class other than the given one.
    alternative_prob : np.ndarray
        ``(N,)`` its probability ``r_i(s_i)``.
    p_wrong : np.ndarray
        ``(N,)`` estimated probability that the given label is wrong.
    suspicion : np.ndarray
        ``(N,)`` in (0, 1], higher = more likely wrong: the order of every list of suspicious
        examples (:func:`relabel.detect.decide.suspicion`).
    joint : np.ndarray
        ``(K, K)`` estimated joint ``Q[given, true]``.
    noise_rate : float
        Estimated share of wrong labels (confident learning's off-diagonal share).
    expected_right, expected_wrong : float
        Expected right and wrong automatic changes.
    skill : float
        Skill of the signal the diagnosis reads (:mod:`relabel.detect.decide`, "Self-diagnosis").
    can_separate : bool
        False when ``skill < MIN_SKILL``: then nothing is changed automatically.
    can_estimate : bool
        False when no signal reaches ``MIN_SKILL``: then nothing is flagged on the estimated
        noise either, and ``summary.json`` reports no noise rate.
    """

    flagged: np.ndarray
    suggested: np.ndarray
    confidence: np.ndarray
    alternative: np.ndarray
    alternative_prob: np.ndarray
    p_wrong: np.ndarray
    suspicion: np.ndarray
    joint: np.ndarray
    noise_rate: float
    expected_right: float
    expected_wrong: float
    skill: float
    can_separate: bool
    can_estimate: bool = True
    #: examples in the smallest and the median class (for the diagnosis)
    class_sizes: tuple[int, float] = (0, 0.0)
    #: reviewer-decided rows (never flagged or changed) and the recalibration they gave
    reviewed: int = 0
    calibration: Calibration | None = None
    #: why no label was changed automatically although the rule would have (None: it was)
    withheld: str | None = None
    #: classes of two or more examples the signals do not recognise better than chance
    #: (:func:`relabel.detect.decide.recognised_classes`): their labels are flagged, never
    #: changed automatically
    unrecognised: tuple[int, ...] = ()
    #: labels changed by each pass of the rule (:func:`merge_passes`); one entry: one pass
    passes: tuple[int, ...] = ()

    def summary(self, target_precision: float, signal: str,
                classes: Sequence[str] | None = None) -> dict[str, Any]:
        """What ``summary.json`` records under ``decisions``; ``signal`` names what the skill
        was read from (``cv`` or ``knn``), ``classes`` the class of each code (default: the
        codes)."""
        diagnosis = None
        sizes = (f"smallest class: {self.class_sizes[0]}, median: "
                 f"{self.class_sizes[1]:g}")
        if not self.can_separate and self.can_estimate and signal == "cv":
            # the neighbours separate the classes: the encoder is not what failed
            diagnosis = ("the out-of-fold corrector predicts the given labels barely better "
                         f"than the class prior (skill {self.skill:.2f} < {MIN_SKILL}) though "
                         "the neighbour vote does better, so nothing was changed "
                         "automatically: the corrector did not learn these classes from their "
                         f"examples ({sizes}); try another ({option('--corrector', 'linear')}, "
                         f"or {option('--corrector', 'none')}: the neighbours alone), or more "
                         "examples per class")
        elif not self.can_separate:
            who = "the out-of-fold corrector" if signal == "cv" else "the neighbour vote"
            diagnosis = (f"{who} predicts the given labels barely better than the class prior "
                         f"(skill {self.skill:.2f} < {MIN_SKILL}): the encoder cannot separate "
                         + ("these classes, so nothing was changed automatically"
                            if self.can_estimate else
                            "these classes (no other signal does better), so the noise was "
                            "not estimated and nothing was changed or flagged on it")
                         + f"; try a domain encoder ({option('--model')}), or more examples per "
                         f"class ({sizes})")
        # no estimate where the signals it is read from cannot separate the classes
        rate = round(self.noise_rate, 4) if self.can_estimate else None
        return {
            "target_precision": target_precision,
            "estimated_noise_rate": rate,
            "estimated_wrong_labels": (None if rate is None else
                                       round(self.noise_rate * len(self.p_wrong), 1)),
            "changes": int((self.suggested >= 0).sum()),
            "expected_right_changes": round(self.expected_right, 1),
            "expected_wrong_changes": round(self.expected_wrong, 1),
            "changes_per_pass": list(self.passes) or [int((self.suggested >= 0).sum())],
            "skill": round(self.skill, 4),
            "skill_signal": signal,
            "can_separate": self.can_separate,
            "diagnosis": diagnosis,
            "reviewed": self.reviewed,
            "calibration": (self.calibration.summary() if self.calibration is not None
                            else None),
            "withheld": self.withheld,
            "unrecognised_classes": self._unrecognised_names(classes),
            "unrecognised": self.unrecognised_note(classes),
        }

    def _unrecognised_names(self, classes: Sequence[str] | None) -> list[Any]:
        """The unrecognised classes by name (by code without ``classes``)."""
        return [str(classes[c]) if classes is not None else c for c in self.unrecognised]

    def unrecognised_note(self, classes: Sequence[str] | None) -> str | None:
        """One line on the classes whose labels the rule may not change (None: no such class)."""
        if not self.unrecognised or not self.can_separate:
            return None
        names = [str(c) for c in self._unrecognised_names(classes)]
        shown = ", ".join(repr(n) for n in names[:5]) + (
            f" and {len(names) - 5} more" if len(names) > 5 else "")
        return (f"{len(names)} class(es) whose own examples the signals do not recognise "
                f"better than chance ({shown}): their labels were not changed automatically, "
                "only flagged for a human (class_not_learned); more examples of them, or a "
                f"domain encoder ({option('--model')}), would let relabel judge them")


#: the keys of ``summary.json``'s ``decisions`` that hold a warning for the user (each None
#: when there is nothing to say)
NOTE_KEYS = ("diagnosis", "withheld", "unrecognised")


def passes_note(decisions: dict[str, Any] | None) -> str:
    """How ``summary.json``'s ``decisions`` split the changes between the passes of the rule,
    e.g. ``", in 3 passes: 1245 + 133 + 30"`` ("" for one pass or an older run)."""
    per_pass = (decisions or {}).get("changes_per_pass") or []
    if len(per_pass) < 2:
        return ""
    return f", in {len(per_pass)} passes: " + " + ".join(str(c) for c in per_pass)


def decision_notes(decisions: dict[str, Any] | None) -> list[str]:
    """The warnings in ``summary.json``'s ``decisions``, in the order they are shown."""
    return [decisions[k] for k in NOTE_KEYS if decisions and decisions.get(k)]


@dataclass(frozen=True)
class DecisionResult:
    """What :func:`relabel.detect.decide.decide` returns: one row per example unless stated.

    Attributes
    ----------
    posterior : np.ndarray
        ``(N, K)`` prior-balanced combined posterior.
    credibility : np.ndarray
        ``(N,)`` its value at the given label (lower = more suspicious).
    flagged : np.ndarray
        ``(N,)`` bool, for human review (the rule's flags, duplicate conflicts and outliers).
    suggested : np.ndarray
        ``(N,)`` int class applied automatically, -1 where relabel abstains.
    confidence : np.ndarray
        ``(N,)`` estimated probability that the suggestion is right (NaN without one).
    alternative : np.ndarray
        ``(N,)`` int most likely other class (a duplicate group's majority where it conflicts).
    alternative_prob : np.ndarray
        ``(N,)`` its probability (NaN where it is a duplicate group's majority).
    p_wrong : np.ndarray
        ``(N,)`` estimated probability that the given label is wrong.
    suspicion : np.ndarray
        ``(N,)`` in (0, 1], higher = more likely wrong: the order of the lists of suspicious
        examples (:func:`relabel.detect.decide.suspicion`).
    reason : list of str or None
        ``N`` reasons of the flags (:mod:`relabel.detect.reasons`), None where not flagged.
    decisions : Decisions
        The noisy-channel rule's estimates (noise rate, joint, skill, expected changes).
    duplicate_conflicts, outliers : int
        How many rows were flagged for each of these reasons.
    """

    posterior: np.ndarray
    credibility: np.ndarray
    flagged: np.ndarray
    suggested: np.ndarray
    confidence: np.ndarray
    alternative: np.ndarray
    alternative_prob: np.ndarray
    p_wrong: np.ndarray
    suspicion: np.ndarray
    reason: list[str | None]
    decisions: Decisions
    duplicate_conflicts: int
    outliers: int
    #: ``(N,)`` int the pass of the rule that made each row's change, 0 where none
    #: (:func:`merge_passes`; None: the one pass, 1 wherever ``suggested >= 0``)
    change_pass: np.ndarray | None = None

    def passes_of_changes(self) -> np.ndarray:
        """``(N,)`` int the pass that made each row's change (0 where none)."""
        made = self.suggested >= 0
        if self.change_pass is None:
            return made.astype(np.int64)
        return np.where(made, self.change_pass, 0)


def hold_for_review(dec: DecisionResult, hold: np.ndarray) -> DecisionResult:
    """``dec`` with the rows of ``hold`` flagged for a human, with no automatic suggestion.

    ``hold`` is ``(N,)`` bool, the rows' reason then ``annotators_split`` (several annotators
    split where the embeddings cannot decide either: genuine ambiguity is never resolved
    automatically), or ``(N,)`` the reason of each held row (``annotators_split``,
    ``overrules_majority``: the consensus differs from a strict majority of the votes, or
    ``no_votes``: no annotator voted, the label is the model's guess) and None or ``""``
    elsewhere."""
    from dataclasses import replace

    hold = np.asarray(hold)
    why = np.where(hold, "annotators_split", "") if hold.dtype == bool else \
        np.array([h or "" for h in hold.tolist()], dtype=object)
    held = why != ""
    suggested = np.where(held, -1, dec.suggested)
    confidence = np.where(held, np.nan, dec.confidence)
    reason = [(w if h else r) for h, w, r in zip(held.tolist(), why.tolist(), dec.reason,
                                                  strict=True)]
    return replace(dec, flagged=dec.flagged | held, suggested=suggested,
                   confidence=confidence, reason=reason)


def withhold_changes(dec: DecisionResult, why: str) -> DecisionResult:
    """``dec`` without any automatic change, for the reason ``why`` (the rows stay flagged for
    a human, with their reasons and their most likely other class). A later round uses it when
    reviewers found the previous round's changes mostly wrong
    (:mod:`relabel.review.spotcheck`)."""
    from dataclasses import replace

    none = np.full_like(dec.suggested, -1)
    return replace(dec, suggested=none, confidence=np.full(len(none), np.nan),
                   decisions=replace(dec.decisions, suggested=none, expected_right=0.0,
                                     expected_wrong=0.0, withheld=why))


def merge_passes(first: Any, given: np.ndarray, final: np.ndarray, confidence: np.ndarray,
                 change_pass: np.ndarray, reason: Sequence[str | None], passes: int) -> Any:
    """The first pass's result (a :class:`DecisionResult` or a subclass) with the automatic
    changes of every pass (:func:`relabel.detect.score.score_examples`, "Passes").

    Everything that judges the given labels (credibility, flags, reasons, suspicion, the noise
    estimate, the signals) stays the first pass's. The changes are the final labels where they
    differ from the given ones, each with the estimated probability of the pass that made it.

    Parameters
    ----------
    first : DecisionResult
        The first pass, on the given labels.
    given, final : np.ndarray
        ``(N,)`` int the given labels and the labels after the last pass.
    confidence : np.ndarray
        ``(N,)`` the probability that each row's last change is right (NaN where none).
    change_pass : np.ndarray
        ``(N,)`` int the pass that last changed each row.
    reason : sequence of str or None
        ``N`` the reason of that pass's flag, for rows the first pass did not flag.
    passes : int
        How many passes ran.

    Returns
    -------
    DecisionResult
        Of ``first``'s type. ``p_wrong`` is at least the change's probability where a label
        changed (a right change means a wrong given label), and such a row is flagged.
    """
    from dataclasses import replace

    changed = np.asarray(final) != np.asarray(given)
    suggested = np.where(changed, final, -1).astype(first.suggested.dtype)
    conf = np.where(changed, confidence, np.nan)
    p_wrong = np.where(changed, np.fmax(first.p_wrong, conf), first.p_wrong)
    reasons = [r if r is not None or not c else later
               for r, c, later in zip(first.reason, changed.tolist(), reason, strict=True)]
    per_pass = np.bincount(np.where(changed, change_pass, 0), minlength=passes + 1)[1:]
    decisions = replace(first.decisions, flagged=first.decisions.flagged | changed,
                        suggested=suggested, confidence=conf, p_wrong=p_wrong,
                        expected_right=float(np.nansum(conf)),
                        expected_wrong=float(np.nansum(1.0 - conf)),
                        passes=tuple(int(c) for c in per_pass))
    return replace(first, flagged=first.flagged | changed, suggested=suggested, confidence=conf,
                   alternative=np.where(changed, final, first.alternative),
                   alternative_prob=np.where(changed, conf, first.alternative_prob),
                   p_wrong=p_wrong, reason=reasons, decisions=decisions,
                   change_pass=np.where(changed, change_pass, 0).astype(np.int64))


__all__ = ["MIN_SKILL", "NOTE_KEYS", "DecisionResult", "Decisions", "decision_notes",
           "hold_for_review", "merge_passes", "passes_note", "withhold_changes"]
