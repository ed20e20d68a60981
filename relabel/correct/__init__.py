"""Correctors (cross-validated re-annotators) and the decision step.

``make_corrector`` builds the estimator named by ``--corrector``. ``auto`` means ``linear``
(logistic regression on the frozen embeddings) on every machine.

Why ``linear`` on the CPU (bench/RESULTS.md, "Trust", the development sets; figures of
2026-12-01, when the choice was made): the decision rule needs out-of-fold probabilities
calibrated against the given labels, and the linear model, fitted on them, gives that; the head
MLP, trained on soft labels, does not. At the 0.9 target the linear corrector raised banking77
(20% noise) from 80.0% to 90.6% right labels (1,069 fixes, 22 damaged) against 81.6% with the
head, changed at most 0.13% of any clean control (the head: 0.38% of clean banking77 when left
out), and on 2,000 banking77 rows (26 per class), where the head is undertrained (out-of-fold
skill 0.10 against 0.42), made 102 fixes and 3 damaged where the head made none. The head ranks
the suspicious examples a little better on 7 of 11 noisy sets (mean AP 0.673 against 0.666):
``--corrector head`` keeps it. Since 2026-12-07 the linear corrector also averages in a model of
the texts' words where they help (:mod:`relabel.correct.lexical`): banking77 ends at 92.2%
(1,222 fixes, 24 damaged). On 1,000-row samples the head's skill falls further (0.05 on
banking77's train labels, 0.06 on trec's) and it flags up to a third of a clean sample
(bench/RESULTS.md, "Small samples").

Why not ``finetune`` on a GPU (it was ``auto`` there until 2026-12-07, when the median class had
at least 50 examples): its decisions have never been measured under the target-precision rule
and the left-out protocol (no GPU was lent to the sessions that built them); its gamma is the
head's, borrowed, and the head, trained on the same soft labels, measures worse than ``linear``
on every count above. ``auto`` must not pick what measures worse, or what was never measured,
and one dataset must get the same decisions on a laptop and on a GPU server.
``--corrector finetune`` keeps it for users who check its changes (``review next
--check-changes``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from relabel.config import CORRECTOR_CHOICES

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator

def resolve_corrector(name: str, class_counts: Any = None) -> str:
    """``auto`` -> ``linear`` (see the module docstring); other names unchanged.

    ``class_counts`` is accepted for callers of earlier versions, where ``auto`` depended on
    it, and is not used."""
    if name not in CORRECTOR_CHOICES:
        choices = ", ".join(CORRECTOR_CHOICES)
        raise ValueError(f"unknown corrector {name!r}; choose one of {choices}")
    return "linear" if name == "auto" else name


def make_corrector(name: str, n_classes: int, **options: Any) -> BaseEstimator:
    """A fresh corrector; ``options`` set only the parameters given (None = class default)."""
    from relabel.correct.finetune import FinetuneCorrector
    from relabel.correct.head import HeadCorrector
    from relabel.correct.linear import LinearCorrector

    cls = {"linear": LinearCorrector, "head": HeadCorrector,
           "finetune": FinetuneCorrector}[resolve_corrector(name)]
    est = cls(n_classes=n_classes)
    valid = est.get_params()
    est.set_params(**{k: v for k, v in options.items() if v is not None and k in valid})
    if options.get("epochs") is not None and "max_steps" in valid:
        est.set_params(max_steps=None)  # epochs the user asked for are run in full
    return est
