"""Stage 0 of ``denoise`` on several annotators per item (:mod:`relabel.pipeline`): the
consensus becomes the given label of one row per item (:func:`consensus_stage`), and the votes
the scoring's per-example arrays (:func:`crowd_arrays`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from relabel.config import DenoiseConfig
from relabel.data.task import ReadTask
from relabel.rundir import RunFiles


def consensus_stage(data: Any, cfg: DenoiseConfig, files: RunFiles, *, encoder: Any = None,
                    embeddings: Any = None, progress: bool = False
                    ) -> tuple[Any, pl.DataFrame, DenoiseConfig]:
    """Stage 0 on several annotators per item: the consensus (:mod:`relabel.crowd.api`, its
    files written into the run directory) becomes the given label of one row per item.

    Except on an item with a single vote: there is nothing to combine, and the consensus can
    only differ from that vote where the model annotator outweighs it, which is a change of a
    human label. Such a change is the decision rule's to make, at ``--target-precision``, as a
    suggestion that ``export`` logs; so the vote itself is the given label. (Before, a Label
    Studio export with one annotation per task had 62 of 600 labels replaced by the model's,
    49 of them right, none of them flagged or in ``changes.csv``.)

    Returns
    -------
    crowd : relabel.crowd.api.Consensus
    items : polars.DataFrame
        One row per item: ``id``, the items' columns, ``label`` = the consensus.
    cfg : DenoiseConfig
        ``cfg`` for the items (label ``label``, id ``id``, no annotator options).
    """
    from dataclasses import replace

    from relabel.crowd.api import consensus, consensus_as_labels, labels_as_codes
    from relabel.crowd.reading import VoteSpec

    spec = VoteSpec.from_config(cfg)
    crowd = consensus(data, annotations=spec.annotations, label_cols=spec.label_cols,
                      votes_col=spec.votes_col, item=spec.item, annotator=spec.annotator,
                      label=spec.label, text=spec.text, dedupe=spec.dedupe,
                      skip_other_items=spec.skip_other_items, multi_select=spec.multi_select,
                      abstain=spec.abstain,
                      label_names=spec.label_names, encoding=spec.encoding, out=files.root,
                      model=cfg.model,
                      corrector=cfg.corrector,
                      embeddings=embeddings if embeddings is not None else cfg.embeddings,
                      encoder=encoder, folds=cfg.folds, seed=cfg.seed,
                      target_precision=cfg.target_precision, progress=progress,
                      require_text=True)
    items = consensus_as_labels(crowd.result, "label")
    votes = crowd.result.votes
    counts = votes.counts()
    # one whole vote (a single answer of several choices is no one label)
    single = (counts.sum(axis=1) == 1) & (counts.max(axis=1) == 1)
    if single.any():
        own = np.asarray(votes.classes, dtype=object)[counts.argmax(axis=1)]
        items = items.with_columns(pl.when(pl.Series(single)).then(pl.Series(own.tolist()))
                                   .otherwise(pl.col("label")).alias("label"))
    kept = int((single & (items["label"] != crowd.items["consensus_label"]).to_numpy()).sum())
    held = _overrules_held(crowd.items["status"].to_numpy(), votes.answers())
    crowd.summary.update(single_vote_items=int(single.sum()), single_votes_kept=kept,
                         overrules_majority_held=int(held.sum()))
    if spec.label_names:  # the items hold codes, as the votes did: read names them, export
        # writes codes back (as it does for a file of coded labels, and consensus --to does)
        items = items.with_columns(labels_as_codes(items["label"], spec.label_names))
    cfg = replace(cfg, label_col="label", id_col="id", annotations=None, label_cols=None,
                  votes_col=None, annotator_col=None, item_col=None, abstain=())
    return crowd, items, cfg


def _overrules_held(status: np.ndarray, answers: np.ndarray) -> np.ndarray:
    """``(I,)`` bool: the items ``denoise`` holds because their consensus overrules a strict
    majority, from each item's ``status`` and number of ``answers``: two or more, since an
    item with a single vote keeps that vote (:func:`consensus_stage`) and overrules nothing."""
    from relabel.crowd.consensus import STATUS_OVERRULES

    return (status == STATUS_OVERRULES) & (answers >= 2)


def crowd_arrays(crowd: Any, task: ReadTask, classes: list[str]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``(N, K)`` vote counts over the run's ``classes`` and ``(N,)`` the reason each item is
    held for a human (``annotators_split`` for the ambiguous ones, ``overrules_majority``
    where the consensus, the item's given label, differs from a strict majority of two votes
    or more, ``no_votes`` where nobody voted and the consensus, the model's label, is below
    the target quality; ``""`` elsewhere), in the order of the task's examples. An item with
    a single vote keeps that vote (:func:`consensus_stage`), so it overrules nothing."""
    from relabel.crowd.consensus import STATUS_AMBIGUOUS

    assert task.examples is not None
    votes = crowd.result.votes
    where = {v: i for i, v in enumerate(votes.item_ids)}
    pos = np.array([where[i] for i in task.examples["id"].to_list()], dtype=np.int64)
    counts = np.zeros((len(pos), len(classes)))
    counts[:, np.searchsorted(classes, votes.classes)] = votes.counts()[pos]
    status = crowd.items["status"].to_numpy()[pos]
    answers = votes.answers()[pos]
    # an item nobody voted on whose consensus (the model's label) is below the target quality
    unvoted = (answers == 0) & crowd.items["needs_review"].to_numpy()[pos]
    hold = np.where(status == STATUS_AMBIGUOUS, "annotators_split",
                    np.where(_overrules_held(status, answers), "overrules_majority",
                             np.where(unvoted, "no_votes", ""))).astype(object)
    return counts, hold


__all__ = ["consensus_stage", "crowd_arrays"]
