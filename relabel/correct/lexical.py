"""The words of a text as a second corrector, beside the embeddings.

A sentence encoder reads meaning and blurs words: two banking intents that differ by one word
("card" against "cash") sit close together. The words themselves are a signal the embeddings
do not carry. For text classification, the linear corrector's out-of-fold probabilities are
therefore averaged with those of a second logistic regression on the texts' word counts:

    cv = (1 - LEXICAL_WEIGHT) · p_embeddings + LEXICAL_WEIGHT · p_words,

with the same folds and seed, so no example is judged by either model after it saw its label.
The word features are TF-IDF of single words (scikit-learn's ``TfidfVectorizer``: its default
tokens of two or more word characters, lower-cased, sublinear term frequency, words in at least
``MIN_DF`` texts), fitted on all texts without their labels; the model is
:class:`relabel.correct.linear.LinearCorrector` on that sparse matrix with ``C = LEXICAL_C``.

Where the words help. Labels made from words (keyword rules, as in weak supervision) are
what a word model learns best, mistakes included, so the words join only where they predict the
given labels no better than the embeddings do (:func:`words_help`). On the development sets
that keeps them on banking77 and its variants and on the gold labels of sms and trec, and
leaves them out on the weakly labelled trec, youtube, sms, Hausa and Yoruba sets (and on
youtube's gold labels). Relations are left out too: the words of the sentence say nothing about
which entity pair is marked.

Measured with the protocol of bench/RESULTS.md ("The words' gamma with the subjective
controls": the decision rule's gamma chosen without each set, target precision 0.9, on the 11
sets where the words are used, the LeWiDi majority labels among the controls): banking77 with
20% noise 80.0% -> 92.2% (1,222 fixes, 24 damaged labels), against 90.7% (1,073 / 22) without
the words; its 2,000-row sample 79.6% -> 86.9% against 84.7%; every clean control changed at
most 0.19% of its rows. Three settings were compared on a first prototype (single words or
words and pairs, ``C`` 3 or 10); their held-out utilities were within 1%, and the one shipped
is the fastest (1.7 s more on 10k banking77 rows, bench/bench_speed.py).
Above ``LEXICAL_MAX_ROWS`` rows the words are left out, as their fit would cost about as much as
the encoding (5 folds on 100k rows of random labels took 84 s).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: weight of the word model's probabilities in the corrector's (equal weights, not tuned)
LEXICAL_WEIGHT = 0.5
#: inverse L2 strength of the word model (chosen among 3 and 10, module docstring)
LEXICAL_C = 3.0
#: L-BFGS iterations of the word model (100 and 300 gave the same decisions on banking77)
LEXICAL_MAX_ITER = 100
#: a word counts when it is in at least this many texts
MIN_DF = 2
#: above this many rows the words are not used
LEXICAL_MAX_ROWS = 100_000


def word_features(texts: Sequence[str]) -> Any | None:
    """TF-IDF of the single words of ``texts``, ``(N, V)`` float32 CSR, or None when no word is
    in ``MIN_DF`` texts (too few or too short texts to learn from)."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(min_df=MIN_DF, sublinear_tf=True, dtype=np.float32)
    try:
        return vectorizer.fit_transform([t if isinstance(t, str) else "" for t in texts])
    except ValueError:  # "empty vocabulary": no word repeats
        return None


def words_help(labels: Any, p_embeddings: Any, p_words: Any) -> tuple[bool, float, float]:
    """Whether the word model joins the corrector: only where it predicts the given labels no
    better than the embeddings' model does (skill ``1 - CE / H``,
    :func:`relabel.detect.decide.signal_skill`, of each one's out-of-fold probabilities).

    Labels made from words (keyword rules, the labelling functions of weak supervision) are
    what a word model learns best, mistakes included: on trec, whose labels are the majority of
    keyword rules, the words predict them with skill 0.89 against the embeddings' 0.60 (97% of
    the given labels, 43% of which are wrong), and averaged in they hid the errors: 0.2% of
    the rows flagged instead of 3.6%. On every human-labelled development set the words' skill
    was at most the embeddings' plus 0.05, and on banking77 below it (bench/RESULTS.md, "The
    words beside the embeddings").

    Returns
    -------
    tuple
        ``(use, words_skill, embeddings_skill)``.
    """
    from relabel.detect.decide import signal_skill

    words, embeddings = signal_skill(labels, p_words), signal_skill(labels, p_embeddings)
    return words <= embeddings, words, embeddings


def average_with_words(p_embeddings: Any, p_words: Any) -> Any:
    """The corrector's probabilities with the words: ``(1 - LEXICAL_WEIGHT) · p_embeddings +
    LEXICAL_WEIGHT · p_words``, both ``(N, K)`` out of fold on the same folds."""
    return (1 - LEXICAL_WEIGHT) * p_embeddings + LEXICAL_WEIGHT * p_words


def word_corrector(n_classes: int) -> Any:
    """The unfitted word model: logistic regression on :func:`word_features`."""
    from relabel.correct.linear import LinearCorrector

    return LinearCorrector(n_classes=n_classes, C=LEXICAL_C, max_iter=LEXICAL_MAX_ITER)


__all__ = ["LEXICAL_C", "LEXICAL_MAX_ITER", "LEXICAL_MAX_ROWS", "LEXICAL_WEIGHT", "MIN_DF",
           "average_with_words", "word_corrector", "word_features", "words_help"]
