"""relabel: find and fix wrong labels in annotated datasets.

Pretrained language models act as re-annotators: every labeled example is embedded, its label is
scored against its neighbours and the label density around it, and a confident re-annotation is
suggested (or the tool abstains and asks a human).

>>> import relabel
>>> run = relabel.denoise("data.csv", out="relabel-out/data")   # doctest: +SKIP
>>> run.issues                                                   # doctest: +SKIP
>>> c = relabel.consensus("votes.csv")    # several annotators per item  # doctest: +SKIP

The API (:mod:`relabel.api`) is imported on first use, so ``import relabel`` stays instant (no
numpy, polars, torch, transformers or scikit-learn until they are needed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from relabel.errors import RelabelError, RelabelInputError, RelabelWarning

__version__ = "0.2.0"

if TYPE_CHECKING:
    from relabel.api import Run, denoise, find_label_issues, load_run
    from relabel.config import DenoiseConfig, InputSpec
    from relabel.crowd.api import Consensus, consensus, load_consensus
    from relabel.train.classifier import evaluate_model, train_classifier
    from relabel.train.retrain import RetrainResult, retrain

_LAZY = {"Run": "relabel.api", "denoise": "relabel.api", "find_label_issues": "relabel.api",
         "load_run": "relabel.api", "DenoiseConfig": "relabel.config",
         "InputSpec": "relabel.config", "consensus": "relabel.crowd.api",
         "Consensus": "relabel.crowd.api", "load_consensus": "relabel.crowd.api",
         "retrain": "relabel.train.retrain", "RetrainResult": "relabel.train.retrain",
         "train_classifier": "relabel.train.classifier",
         "evaluate_model": "relabel.train.classifier"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'relabel' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = ["Consensus", "DenoiseConfig", "InputSpec", "RelabelError", "RelabelInputError",
           "RelabelWarning", "RetrainResult", "Run",
           "__version__", "consensus", "denoise", "evaluate_model", "find_label_issues",
           "load_consensus", "load_run", "retrain", "train_classifier"]
