"""relabel: find and fix wrong labels in annotated datasets.

Pretrained language models act as re-annotators: every labeled example is embedded, its label is
scored against its neighbours and the label density around it, and a confident re-annotation is
suggested (or the tool abstains and asks a human).
"""

__version__ = "0.1.0"

from relabel.errors import RelabelError, RelabelInputError

__all__ = ["RelabelError", "RelabelInputError", "__version__"]
