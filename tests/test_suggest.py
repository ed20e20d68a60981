"""Flags and suggestions from hand-made posteriors."""

from __future__ import annotations

import numpy as np

from relabel.correct.suggest import flag_issues, per_class_thresholds, suggest_labels


def test_per_class_thresholds_are_mean_self_confidence():
    labels = np.array([0, 0, 1])
    post = np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]])
    np.testing.assert_allclose(per_class_thresholds(labels, post), [0.7, 0.8])


def test_flags_confident_other_class():
    labels = np.array([0, 0, 0, 1, 1, 1])
    post = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9],  # last of class 0 looks like class 1
                     [0.2, 0.8], [0.3, 0.7], [0.1, 0.9]])
    flags = flag_issues(labels, post)
    assert flags.tolist() == [False, False, True, False, False, False]


def test_user_threshold():
    labels = np.array([0, 1])
    post = np.array([[0.3, 0.7], [0.4, 0.6]])
    assert flag_issues(labels, post, threshold=0.5).tolist() == [True, False]


def test_suggest_or_abstain():
    labels = np.array([0, 0, 0, 1])
    post = np.array([[0.05, 0.95, 0.0], [0.4, 0.45, 0.15], [0.9, 0.1, 0.0], [0.1, 0.9, 0.0]])
    flagged = np.array([True, True, False, False])
    sugg, conf, alt = suggest_labels(labels, post, flagged, min_confidence=0.75)
    assert sugg.tolist() == [1, -1, -1, -1]  # second is flagged but not confident: abstain
    assert conf[0] == 0.95 and np.isnan(conf[1:]).all()
    assert alt.tolist() == [1, 1, 1, 0]


def test_singleton_class_is_flagged_but_never_relabelled():
    labels = np.array([0, 1, 1, 1])
    post = np.array([[0.05, 0.95], [0.1, 0.9], [0.1, 0.9], [0.2, 0.8]])
    flagged = flag_issues(labels, post)
    assert flagged[0]
    sugg, _, _ = suggest_labels(labels, post, flagged)
    assert sugg[0] == -1
