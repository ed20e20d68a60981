"""Learning from reviewers: recalibrate the decision rule's confidence on this dataset.

Every reviewed example is evidence about how right relabel is *here*. Its out-of-fold
likelihood ``L_i`` never saw its own label (the corrector's folds hold it out, the kNN vote and
the KDE leave it out), so the noisy-channel posterior ``r_i`` computed with its *original* given
label is an honest forecast of what the reviewer said. For each reviewed row the forecast is
``p_i = r_i(s_i)``, the probability of its best other class ``s_i``, and the outcome is
``o_i = 1`` when the reviewer chose ``s_i``.

The map from forecast to observed frequency is a logistic recalibration with a per-class offset,

    p'_i = sigmoid(a · logit(p_i) + b + b_{s_i})

fitted by maximum a posteriori on the reviewed rows with Gaussian priors centred on the
identity (``a ~ N(1, PRIOR_SD²)``, ``b, b_c ~ N(0, PRIOR_SD²)``). With few reviews it stays close
to the identity (the rule's own estimate); as reviews accumulate it follows them: suggestions
become bolder where reviewers keep agreeing (``p' > p``) and more careful where they do not. The
recalibrated ``p'`` replaces ``r_i(s_i)`` for the unreviewed rows: a change is made where
``p' >= --target-precision``, and the expected right and wrong changes are sums of ``p'``.

``PRIOR_SD`` is the one constant: 0.5 on the logit scale, so that about 50 reviews move the map as
much as the prior holds it (see bench/RESULTS.md, "Learning from reviewers").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: prior standard deviation of every recalibration parameter (logit scale)
PRIOR_SD = 0.5
#: forecasts are clipped to [sigmoid(-LOGIT_CLIP), sigmoid(LOGIT_CLIP)] (0.03% .. 99.97%) before
#: the logit: a forecast of exactly 0 or 1 carries no more information than that
LOGIT_CLIP = 8.0


@dataclass(frozen=True)
class Calibration:
    """A fitted recalibration ``p' = sigmoid(a · logit(p) + b + offsets[class])``.

    Attributes
    ----------
    a, b : float
        Slope and intercept on the logit scale.
    offsets : np.ndarray
        ``(K,)`` per-class offsets (of the suggested class).
    pairs : int
        Reviewed rows it was fitted on.
    observed, forecast : float
        Share of those rows where the reviewer chose relabel's best other class, and the mean
        forecast probability of that before recalibration.
    """

    a: float
    b: float
    offsets: np.ndarray
    pairs: int
    observed: float
    forecast: float

    @classmethod
    def identity(cls, n_classes: int) -> Calibration:
        return cls(a=1.0, b=0.0, offsets=np.zeros(n_classes), pairs=0, observed=float("nan"),
                   forecast=float("nan"))

    def apply(self, p: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """``(N,)`` recalibrated probabilities of ``p`` (forecasts for classes ``classes``)."""
        if self.pairs == 0:
            return np.asarray(p, dtype=np.float64)
        z = self.a * _logit(p) + self.b + self.offsets[classes]
        return _sigmoid(z)

    def summary(self) -> dict[str, float | int]:
        return {"reviewed_pairs": self.pairs, "slope": round(self.a, 3),
                "intercept": round(self.b, 3),
                "observed_agreement": (round(self.observed, 4) if self.pairs else None),
                "forecast_agreement": (round(self.forecast, 4) if self.pairs else None)}


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore"):
        z = np.log(p) - np.log1p(-p)
    return np.clip(z, -LOGIT_CLIP, LOGIT_CLIP)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))


def fit_calibration(forecast: np.ndarray, outcome: np.ndarray, classes: np.ndarray,
                    n_classes: int, *, prior_sd: float | None = None, iters: int = 50
                    ) -> Calibration:
    """Fit the recalibration on reviewed rows (MAP, Newton's method).

    Parameters
    ----------
    forecast : np.ndarray
        ``(M,)`` relabel's probability ``r_i(s_i)`` of its best other class, before review.
    outcome : np.ndarray
        ``(M,)`` bool, the reviewer chose ``s_i``.
    classes : np.ndarray
        ``(M,)`` int ``s_i``.
    n_classes : int
        K.
    prior_sd : float, optional
        Prior standard deviation of every parameter (default ``PRIOR_SD``).

    Returns
    -------
    Calibration
    """
    prior_sd = PRIOR_SD if prior_sd is None else prior_sd
    forecast = np.asarray(forecast, dtype=np.float64)
    y = np.asarray(outcome, dtype=np.float64)
    m = len(forecast)
    if m == 0:
        return Calibration.identity(n_classes)
    x = _logit(forecast)
    # parameters theta = [a, b, offsets...]; design row = [x, 1, onehot(class)]
    design = np.zeros((m, 2 + n_classes))
    design[:, 0], design[:, 1] = x, 1.0
    design[np.arange(m), 2 + np.asarray(classes)] = 1.0
    mean = np.zeros(2 + n_classes)
    mean[0] = 1.0
    prec = np.full(2 + n_classes, 1.0 / prior_sd**2)

    def log_post(t: np.ndarray) -> float:
        z = design @ t
        return float((y * z - np.logaddexp(0.0, z)).sum() - 0.5 * (prec * (t - mean) ** 2).sum())

    # damped Newton on a strictly concave objective: the Gaussian prior keeps the optimum finite
    # even when the reviewers agree with every forecast; the line search keeps each step uphill
    theta = mean.copy()
    current = log_post(theta)
    for _ in range(iters):
        p = _sigmoid(design @ theta)
        grad = design.T @ (y - p) - prec * (theta - mean)
        hess = -(design.T * (p * (1 - p))) @ design - np.diag(prec)
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while t > 1e-6:
            cand = theta - t * step
            value = log_post(cand)
            if value >= current - 1e-12:
                break
            t *= 0.5
        theta, moved, current = cand, float(np.max(np.abs(t * step))), value
        if moved < 1e-8:
            break
    return Calibration(a=float(theta[0]), b=float(theta[1]), offsets=theta[2:].copy(), pairs=m,
                       observed=float(y.mean()), forecast=float(forecast.mean()))


__all__ = ["PRIOR_SD", "Calibration", "fit_calibration"]
