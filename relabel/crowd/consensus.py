"""Consensus labels, their quality, the items that need a human, and each annotator's record.
Pure: a :class:`~relabel.crowd.votes.Votes` record (and optionally a model's out-of-fold
probabilities) in, frames out.

Per item:

- ``consensus_label``: the argmax of the posterior of :func:`relabel.crowd.estimate.dawid_skene`
  (votes, shrunk confusion matrices, and the model as one more annotator), or, where most votes
  come from annotators who only ever used one class and who between them use two or more
  (label functions, which Dawid–Skene cannot judge), of
  :func:`relabel.crowd.estimate.pooled_vote`: the majority vote, the model deciding
  only items without a vote (:func:`relabel.crowd.estimate.estimate`);
- ``quality``: the calibrated posterior of that label, an estimate of P(consensus is right);
- ``agreement``: share of the item's votes for it; ``n_votes`` and ``votes`` (each class's count);
- ``majority_label`` and ``p_majority_wrong``: the plain majority vote (ties to the more frequent
  class; for label functions, the consensus's tie rule) and the estimated probability that it is
  wrong;
- ``ambiguous``: the annotators are *split* (the second label has at least ``SPLIT_SHARE`` of
  the item's votes, two votes or more) and the embeddings cannot separate the two labels either
  (the model gives them probabilities within ``MODEL_MARGIN`` of each other; without a model
  nothing separates them, so a split item is ambiguous when its quality is below the target).
  Genuine ambiguity: flagged, and never resolved automatically;
- ``overrules_majority``: the consensus differs from a *strict* majority of the item's votes
  (one label with more votes than any other; a single vote counts). The consensus stays the
  item's label, but it is never taken without a human: where it overrules the annotators, its
  quality claims more than it delivers on real crowds. On CrowdTruth's open relation set (3
  workers per item) such items resolved at quality >= 0.9 were right on 84-86% against the
  reference, at a mean quality of 0.95; with 7-8 workers, 53-65% against the other workers'
  plurality, at 0.97 (``bench/RESULTS.md``, "Overruling a majority"). On the simulated crowds,
  whose annotators follow Dawid–Skene's model, they were right on 94-100%: there the rule
  costs reviews (1.4-2.3% of trec-sim's items), never accuracy;
- ``needs_review``: ambiguous, overrules a strict majority, or ``quality`` below the target
  precision (the same promise as ``denoise --target-precision``: an item resolved without a
  human is right with probability at least P).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import polars as pl

from relabel.crowd.agreement import Agreement, agreement
from relabel.crowd.estimate import (
    EMResult,
    annotator_accuracy,
    estimate,
    jeffreys_interval,
    majority_vote,
    single_class_share,
)
from relabel.crowd.votes import Votes, abstention_hint
from relabel.errors import option

#: a split: the runner-up label holds at least this share of the item's votes
SPLIT_SHARE = 0.4
#: the model cannot separate two labels when their probabilities are closer than this
MODEL_MARGIN = 0.2
#: the model's row in the annotator table
MODEL_ANNOTATOR = "(relabel model)"
#: the confused class pairs an annotator table lists, at most
TOP_CONFUSIONS = 3

STATUS_RESOLVED, STATUS_LOW, STATUS_AMBIGUOUS = "resolved", "low_quality", "ambiguous"
STATUS_OVERRULES = "overrules_majority"


@dataclass(frozen=True)
class ConsensusResult:
    """The consensus of a set of votes.

    Attributes
    ----------
    votes : Votes
    em : EMResult
        The estimator's output (posteriors, confusion matrices).
    items : polars.DataFrame
        One row per item (see the module docstring for the columns), in ``votes.item_ids``
        order, followed by the items' own columns (text...).
    annotators : polars.DataFrame
        ``annotator, votes, accuracy, accuracy_low, accuracy_high, agreement_with_consensus,
        mean_kappa, confuses``; the model's row last when it took part.
    agreement : Agreement
        Krippendorff's α, Fleiss' κ, pairwise Cohen's κ.
    model_probs : np.ndarray or None
        ``(I, K)`` the model's out-of-fold probabilities, when it took part.
    target_precision : float
    """

    votes: Votes
    em: EMResult
    items: pl.DataFrame
    annotators: pl.DataFrame
    agreement: Agreement
    model_probs: np.ndarray | None
    target_precision: float

    @property
    def labels(self) -> np.ndarray:
        """``(I,)`` consensus class codes."""
        return self.em.posterior.argmax(1)

    def summary(self) -> dict[str, Any]:
        items = self.items
        counts = items["status"].value_counts()
        status = dict(zip(counts["status"].to_list(), counts["count"].to_list(), strict=True))
        changed = int((items["consensus_label"] != items["majority_label"]).sum())
        unvoted = self.votes.counts().sum(1) == 0
        return {
            "items": items.height, "annotators": self.votes.n_annotators,
            "votes": self.votes.n_votes, "classes": self.votes.classes,
            "model": self.model_probs is not None,
            "target_precision": self.target_precision,
            "needs_review": int(items["needs_review"].sum()),
            "ambiguous": int(status.get(STATUS_AMBIGUOUS, 0)),
            "low_quality": int(status.get(STATUS_LOW, 0)),
            "overrules_majority": int(status.get(STATUS_OVERRULES, 0)),
            "resolved": int(status.get(STATUS_RESOLVED, 0)),
            "differs_from_majority": changed,
            "expected_accuracy": round(float(cast(float, items["quality"].mean())), 4),
            "agreement": self.agreement.to_json(),
            "em": {"estimator": self.em.estimator,
                   "single_class_share": round(single_class_share(
                       self.votes.annotator, self.votes.label, self.votes.n_annotators,
                       self.votes.n_classes), 4),
                   "iterations": self.em.iterations, "converged": self.em.converged,
                   "collapsed": self.em.collapsed},
            "abstentions": self.votes.abstained,
            "votes_on_other_items": self.votes.other_items,
            "items_without_votes": int(unvoted.sum()),
            "items_without_votes_need_review": int(
                (unvoted & items["needs_review"].to_numpy()).sum()),
            "warnings": [w for w in (abstention_hint(self.votes),) if w],
        }


def needs_human_text(summary: dict[str, Any]) -> str:
    """``"12 need a human (3 ambiguous, 4 overrule a majority of their votes, 5 below quality
    0.9)"`` from :meth:`ConsensusResult.summary` (older summaries lack the overrules count)."""
    parts = [f"{summary.get('ambiguous', 0)} ambiguous"]
    if summary.get("overrules_majority"):
        parts.append(f"{summary['overrules_majority']} overrule a majority of their votes")
    parts.append(f"{summary.get('low_quality', 0)} below quality "
                 f"{summary.get('target_precision', 0.9):g}")
    return f"{summary.get('needs_review')} need a human ({', '.join(parts)})"


def consensus_notes(summary: dict[str, Any], *, denoise: bool = False) -> list[str]:
    """Lines the printed summaries of ``consensus`` and ``denoise`` (``denoise=True``) add about
    how the votes were read and combined: the estimator where it is not Dawid–Skene, the
    abstentions dropped, the items without any vote, and the warnings (``summary``:
    :meth:`ConsensusResult.summary`, older ones lack the fields)."""
    lines = []
    em = summary.get("em") or {}
    if em.get("estimator") == "majority":
        share = em.get("single_class_share")
        lines.append(
            "the annotators look like label functions"
            + (f" ({100 * share:.0f}% of the votes come from annotators who only ever used one "
               "class)" if share is not None else "")
            + ": Dawid–Skene cannot judge such votes, so the consensus is the majority vote "
              "(a tie goes to the class with fewer votes overall: the broad rules vote most), "
              "and the model decides only items without a vote")
    if summary.get("abstentions"):
        lines.append(f"{summary['abstentions']} abstentions ({option('--abstain')}) are not "
                     "votes")
    if summary.get("votes_on_other_items"):
        lines.append(f"{summary['votes_on_other_items']} rows of votes on items that are not "
                     f"in the data are skipped ({option('--skip-other-items', True)})")
    if summary.get("items_without_votes"):
        guess = "the model's label" if summary.get("model") else "a guess"
        held = summary.get("items_without_votes_need_review")
        lines.append(f"{summary['items_without_votes']} items have no vote: "
                     + (f"their given label is {guess}; "
                        + (f"the {held} whose quality is below the target are" if held is not None
                           else "those below the target quality are")
                        + " flagged for a human (no_votes) and never changed automatically"
                        if denoise else
                        f"their consensus is {guess}, and they need a human unless its quality "
                        "reaches the target"))
    lines += [f"warning: {w}" for w in summary.get("warnings") or []]
    return lines


def _vote_string(counts: np.ndarray, classes: list[str]) -> list[str]:
    out = []
    for row in counts:
        order = np.argsort(-row, kind="stable")
        # a multi-select answer's choices hold fractions of a vote: 1.5, 0.33
        out.append(", ".join(f"{classes[c]}: {round(float(row[c]), 2):g}" for c in order
                             if row[c] > 0))
    return out


def _annotations_string(votes: Votes) -> list[str]:
    per: list[list[str]] = [[] for _ in range(votes.n_items)]
    for i, a, lab in zip(votes.item.tolist(), votes.annotator.tolist(), votes.label.tolist(),
                         strict=True):
        per[i].append(f"{votes.annotators[a]}={votes.classes[lab]}")
    return ["; ".join(p) for p in per]


def overrules_majority(counts: np.ndarray, consensus: np.ndarray) -> np.ndarray:
    """``(I,)`` bool: the ``(I,)`` consensus differs from a strict majority of the ``(I, K)``
    vote counts (one class with more votes than any other)."""
    top = counts.max(1)
    strict = (top > 0) & ((counts == top[:, None]).sum(1) == 1)
    return strict & (counts.argmax(1) != consensus)


def flag_items(counts: np.ndarray, quality: np.ndarray, consensus: np.ndarray,
               model_probs: np.ndarray | None, target_precision: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """``(I,)`` bool ``ambiguous`` and ``needs_review`` (module docstring)."""
    n = counts.sum(1)
    order = np.argsort(-counts, axis=1, kind="stable")
    first, second = order[:, 0], order[:, 1] if counts.shape[1] > 1 else order[:, 0]
    rows = np.arange(len(counts))
    runner_up = counts[rows, second]
    with np.errstate(invalid="ignore", divide="ignore"):
        split = (n >= 2) & (runner_up >= 1) & (runner_up / np.maximum(n, 1) >= SPLIT_SHARE)
    if model_probs is not None:
        has_model = model_probs.sum(1) > 0
        close = np.abs(model_probs[rows, first] - model_probs[rows, second]) < MODEL_MARGIN
        ambiguous = split & np.where(has_model, close, quality < target_precision)
    else:
        ambiguous = split & (quality < target_precision)
    needs = ambiguous | (quality < target_precision) | overrules_majority(counts, consensus)
    return ambiguous, needs


def confusions(expected: np.ndarray, classes: list[str], top: int = TOP_CONFUSIONS) -> str:
    """The ``top`` (true -> given) pairs an annotator gets wrong most, as ``"a→b (3.0)"``, from
    the ``(K, K)`` expected counts (only pairs of at least one expected vote)."""
    off = expected.copy()
    np.fill_diagonal(off, 0.0)
    flat = np.argsort(-off, axis=None, kind="stable")[:top]
    parts = []
    for f in flat:
        k, lab = divmod(int(f), off.shape[1])
        if off[k, lab] >= 1.0:
            parts.append(f"{classes[k]}→{classes[lab]} ({off[k, lab]:.1f})")
    return ", ".join(parts)


def annotator_table(votes: Votes, em: EMResult, agree: Agreement,
                    model_probs: np.ndarray | None) -> pl.DataFrame:
    """One row per annotator (see :class:`ConsensusResult`)."""
    acc, low, high, n_votes = annotator_accuracy(votes.item, votes.annotator, votes.label,
                                                 em.calibrated, votes.n_annotators,
                                                 weight=votes.weight)
    consensus = em.posterior.argmax(1)
    hit = (votes.label == consensus[votes.item]).astype(np.float64)
    hits = np.bincount(votes.annotator, weights=hit if votes.weight is None
                       else hit * votes.weight, minlength=votes.n_annotators)
    with np.errstate(invalid="ignore", divide="ignore"):
        agree_share = np.where(n_votes > 0, hits / np.maximum(n_votes, 1), np.nan)
    pairs = agree.pairs
    kappa = {}
    if pairs.height:
        long = pl.concat([pairs.select(pl.col("annotator_a").alias("annotator"), "cohen_kappa"),
                          pairs.select(pl.col("annotator_b").alias("annotator"), "cohen_kappa")])
        per = long.filter(pl.col("cohen_kappa").is_not_nan()).group_by("annotator").agg(
            pl.col("cohen_kappa").mean())
        kappa = dict(zip(per["annotator"].to_list(), per["cohen_kappa"].to_list(), strict=True))
    rows = [{
        "annotator": name, "votes": int(n_votes[j]), "accuracy": float(acc[j]),
        "accuracy_low": float(low[j]), "accuracy_high": float(high[j]),
        "agreement_with_consensus": float(agree_share[j]),
        "mean_kappa": kappa.get(name),
        "confuses": confusions(em.expected[j], votes.classes),
    } for j, name in enumerate(votes.annotators)]
    if model_probs is not None:
        has = model_probs.sum(1) > 0
        # its argmax, judged like an annotator's vote (its soft probability mass on the right
        # class would read as a much lower "accuracy" than a hard vote's)
        right = float(em.calibrated[has, model_probs[has].argmax(1)].sum())
        n = int(has.sum())
        low_m, high_m = jeffreys_interval(right, n)
        expected = (em.posterior[has].T @ model_probs[has]) if n else np.zeros((1, 1))
        rows.append({
            "annotator": MODEL_ANNOTATOR, "votes": n, "accuracy": right / max(n, 1),
            "accuracy_low": float(low_m), "accuracy_high": float(high_m),
            "agreement_with_consensus": float(
                (model_probs[has].argmax(1) == consensus[has]).mean()) if n else float("nan"),
            "mean_kappa": None, "confuses": confusions(expected, votes.classes)})
    schema = {"annotator": pl.String, "votes": pl.Int64, "accuracy": pl.Float64,
              "accuracy_low": pl.Float64, "accuracy_high": pl.Float64,
              "agreement_with_consensus": pl.Float64, "mean_kappa": pl.Float64,
              "confuses": pl.String}
    return pl.DataFrame(rows, schema=schema)


def seed_labels(votes: Votes, **em_options: Any) -> np.ndarray:
    """``(I,)`` the labels the model annotator is trained on: the majority vote, ties broken by
    the vote-only estimator (as CROWDLAB trains its classifier on the majority vote). The
    vote-only posterior is not used alone: where an item has one vote it cannot judge that
    vote, and a few items seen by several annotators would then decide every other label."""
    em = estimate(votes.item, votes.annotator, votes.label, votes.n_items,
                  votes.n_annotators, votes.n_classes, weight=votes.weight, **em_options)
    return np.argmax(votes.counts() + 1e-3 * em.posterior, axis=1)


def estimate_consensus(votes: Votes, *, model_probs: np.ndarray | None = None,
                       target_precision: float = 0.9, **em_options: Any) -> ConsensusResult:
    """The consensus of ``votes`` (module docstring).

    Parameters
    ----------
    votes : Votes
    model_probs : np.ndarray, optional
        ``(I, K)`` out-of-fold class probabilities of a model for each item (one more
        annotator; a row of zeros where the model has nothing to say).
    target_precision : float
        An item is resolved without a human only where its quality reaches this.
    **em_options
        Passed to :func:`~relabel.crowd.estimate.estimate` (``estimator``, ``smoothing``,
        ``temperature``, ...).

    Returns
    -------
    ConsensusResult
    """
    em = estimate(votes.item, votes.annotator, votes.label, votes.n_items,
                  votes.n_annotators, votes.n_classes, model_probs=model_probs,
                  weight=votes.weight, **em_options)
    counts = votes.counts()
    n = counts.sum(1)
    consensus = em.posterior.argmax(1)
    rows = np.arange(votes.n_items)
    quality = em.calibrated[rows, consensus]
    ambiguous, needs = flag_items(counts, quality, consensus, model_probs, target_precision)
    status = np.where(ambiguous, STATUS_AMBIGUOUS,
                      np.where(overrules_majority(counts, consensus), STATUS_OVERRULES,
                               np.where(needs, STATUS_LOW, STATUS_RESOLVED)))
    classes = np.asarray(votes.classes, dtype=object)
    majority = majority_vote(counts)
    if em.estimator == "majority":  # the consensus is the majority vote, with its own tie rule
        majority = np.where(n > 0, consensus, majority)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n > 0, counts[rows, consensus] / np.maximum(n, 1), np.nan)
    columns: dict[str, Any] = {
        "id": votes.item_ids,
        "consensus_label": classes[consensus].tolist(),
        "quality": quality,
        "agreement": share,
        "n_votes": n.astype(np.int64),
        "votes": _vote_string(counts, votes.classes),
        "annotations": _annotations_string(votes),
        "majority_label": [classes[m] if n[i] > 0 else None for i, m in enumerate(majority)],
        # P(the majority vote is wrong): where to look first when auditing plain majority votes
        "p_majority_wrong": np.where(n > 0, 1.0 - em.calibrated[rows, majority], np.nan),
        "needs_review": needs,
        "status": status.tolist(),
    }
    if model_probs is not None:
        has = model_probs.sum(1) > 0
        columns["model_label"] = [classes[m] if h else None
                                  for m, h in zip(model_probs.argmax(1), has, strict=True)]
        columns["model_prob"] = np.where(has, model_probs.max(1), np.nan)
    frame = pl.DataFrame(columns)
    extra = votes.items.drop("id")
    if extra.width:
        frame = pl.concat([frame, extra.select(pl.exclude(frame.columns))], how="horizontal")
    agree = agreement(votes)
    return ConsensusResult(votes=votes, em=em, items=frame,
                           annotators=annotator_table(votes, em, agree, model_probs),
                           agreement=agree, model_probs=model_probs,
                           target_precision=target_precision)


__all__ = ["MODEL_ANNOTATOR", "MODEL_MARGIN", "SPLIT_SHARE", "STATUS_AMBIGUOUS", "STATUS_LOW",
           "STATUS_OVERRULES", "STATUS_RESOLVED", "ConsensusResult", "annotator_table",
           "confusions", "consensus_notes", "estimate_consensus", "flag_items",
           "needs_human_text", "overrules_majority", "seed_labels"]
