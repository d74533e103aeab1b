"""Supervised disentanglement scores from posterior means and ground-truth factor classes.

All functions take posterior means ``mu`` ``[N, d]`` and integer factor classes ``factors``
``[N, F]`` (a 1-D ``[N]`` is one factor) of the same points, and return floats in [0, 1].

- :func:`mig` -- Mutual Information Gap (Chen et al. 2018), as in disentanglement_lib: each
  latent is discretised into 20 equal-width histogram bins; for each factor the gap between the
  two largest mutual informations with a latent, divided by the factor's entropy; averaged.
- :func:`sap` -- Separated Attribute Predictability (Kumar et al. 2018), disentanglement_lib's
  variant for discrete factors: for each (latent, factor) a linear SVM (``C = 0.01``, balanced
  class weights) on that one latent predicts the factor; the score is its accuracy on a held-out
  split; per factor the gap between the two best latents; averaged. (``classifier="threshold"``
  instead puts K - 1 thresholds on the latent: see :func:`sap`.)
- :func:`dci` -- Disentanglement, Completeness, Informativeness (Eastwood & Williams 2018). The
  importance matrix ``R [d, F]`` comes from one tree ensemble per factor: a random forest as in
  the original paper (bagged trees over all features, 50 trees, leaves of at least 5 points;
  importances are the mean decrease in impurity). disentanglement_lib's gradient-boosted trees
  take tens of seconds for N = 1000, d = 10 and dSprites' 113 classes (one tree per class and
  stage); the forest takes about a second. Disentanglement = importance-weighted mean over
  latents of ``1 - H_F(row)``; completeness = importance-weighted mean over factors of
  ``1 - H_d(column)`` (entropies in base F and d, rows/columns normalised, + 1e-11 as in
  disentanglement_lib); informativeness = mean held-out accuracy of the forests.

SAP and DCI split the points once, at random from ``seed``, into 2/3 training and 1/3 test
points (disentanglement_lib's 10,000 : 5,000). Factors that are constant over the points carry
no information and are left out of every score; constant (dead) latents score zero everywhere.
With a single varying factor DCI's disentanglement is 1 (a latent can only be about that
factor); with a single latent, completeness is 1.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["mig", "sap", "dci", "all_metrics", "mig_per_factor", "sap_per_factor", "dci_importance"]

MIG_BINS = 20
TRAIN_FRACTION = 2.0 / 3.0
SAP_C = 0.01
DCI_TREES = 50
DCI_MIN_LEAF = 5


# --------------------------------------------------------------------------------------------
# Input checks and shared helpers
# --------------------------------------------------------------------------------------------


def _check(mu, factors, min_points: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated ``mu`` float64 [N, d], factor classes int64 [N, F] (values 0..K-1 per column),
    and a boolean mask of the factors that vary."""
    m = np.asarray(mu)
    if m.ndim != 2:
        raise ValueError(f"mu: expected posterior means of shape [N, d], got shape {m.shape}")
    if m.dtype.kind not in "fiu":
        raise ValueError(f"mu: expected a real array, got dtype {m.dtype}")
    m = m.astype(np.float64)
    if m.shape[1] == 0:
        raise ValueError("mu: has no latent dimensions (d = 0)")
    if not np.isfinite(m).all():
        raise ValueError("mu: contains NaN or infinite values")
    f = np.asarray(factors)
    if f.ndim == 1:
        f = f[:, None]
    if f.ndim != 2:
        raise ValueError(f"factors: expected integer classes of shape [N, F], got shape {f.shape}")
    if f.shape[0] != m.shape[0]:
        raise ValueError(f"factors: has {f.shape[0]} rows but mu has {m.shape[0]}")
    if f.shape[1] == 0:
        raise ValueError("factors: no factors (F = 0); supervised scores need ground-truth factors")
    if f.dtype.kind == "f":
        if not np.isfinite(f).all() or (f != np.round(f)).any():
            raise ValueError("factors: expected integer class labels")
    elif f.dtype.kind not in "uib":
        raise ValueError(f"factors: expected integer class labels, got dtype {f.dtype}")
    if m.shape[0] < min_points:
        raise ValueError(f"mu: needs at least {min_points} points, got {m.shape[0]}")
    classes = np.empty(f.shape, dtype=np.int64)
    for j in range(f.shape[1]):
        classes[:, j] = np.unique(f[:, j], return_inverse=True)[1].reshape(-1)
    varying = classes.max(axis=0) > 0
    if not varying.any():
        raise ValueError("factors: every factor is constant over these points; nothing to score")
    return m, classes, varying


def _entropy_bits(a: np.ndarray) -> float:
    p = np.bincount(a) / a.size
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def _mutual_info_bits(a: np.ndarray, b: np.ndarray) -> float:
    """Plug-in mutual information (bits) of two non-negative integer label vectors."""
    kb = int(b.max()) + 1
    joint = np.bincount(a * kb + b).astype(np.float64)
    nz = np.flatnonzero(joint)
    pab = joint[nz] / a.size
    pa = np.bincount(a)[nz // kb] / a.size
    pb = np.bincount(b, minlength=kb)[nz % kb] / a.size
    return float(max(0.0, (pab * np.log2(pab / (pa * pb))).sum()))


def _histogram_discretize(mu: np.ndarray, n_bins: int) -> np.ndarray:
    """disentanglement_lib's ``histogram_discretize``: per latent, equal-width bins over its range."""
    out = np.empty(mu.shape, dtype=np.int64)
    for i in range(mu.shape[1]):
        edges = np.histogram(mu[:, i], bins=n_bins)[1][:-1]
        out[:, i] = np.digitize(mu[:, i], edges)
    return out


def _split(n: int, seed: int, train_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction: must lie in (0, 1), got {train_fraction}")
    perm = np.random.default_rng(seed).permutation(n)
    n_train = min(n - 1, max(1, int(round(n * train_fraction))))
    return np.sort(perm[:n_train]), np.sort(perm[n_train:])


def _top_two_gap(scores: np.ndarray) -> np.ndarray:
    """Per column, largest minus second-largest entry (the second is 0 with a single row)."""
    s = np.sort(scores, axis=0)[::-1]
    second = s[1] if s.shape[0] > 1 else np.zeros(s.shape[1])
    return s[0] - second


# --------------------------------------------------------------------------------------------
# MIG
# --------------------------------------------------------------------------------------------


def mig_per_factor(mu, factors, n_bins: int = MIG_BINS) -> np.ndarray:
    """MIG of each factor ``[F]`` (0 for constant factors)."""
    m, f, varying = _check(mu, factors)
    codes = _histogram_discretize(m, n_bins)
    out = np.zeros(f.shape[1])
    for j in np.flatnonzero(varying):
        mi = np.array([_mutual_info_bits(codes[:, i], f[:, j]) for i in range(m.shape[1])])
        out[j] = _top_two_gap(mi[:, None])[0] / _entropy_bits(f[:, j])
    return np.clip(out, 0.0, 1.0)


def mig(mu, factors, n_bins: int = MIG_BINS) -> float:
    """Mutual Information Gap, averaged over the factors that vary."""
    _, _, varying = _check(mu, factors)
    return float(mig_per_factor(mu, factors, n_bins)[varying].mean())


# --------------------------------------------------------------------------------------------
# SAP
# --------------------------------------------------------------------------------------------


SAP_CLASSIFIERS = ("svm", "threshold")


def _sap_scores(m, f, varying, seed, train_fraction, classifier="svm") -> np.ndarray:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC
    from sklearn.tree import DecisionTreeClassifier

    if classifier not in SAP_CLASSIFIERS:
        raise ValueError(f"classifier: expected one of {SAP_CLASSIFIERS}, got {classifier!r}")
    train, test = _split(m.shape[0], seed, train_fraction)
    scores = np.zeros((m.shape[1], f.shape[1]))
    for j in np.flatnonzero(varying):
        y_train, y_test = f[train, j], f[test, j]
        if np.unique(y_train).size < 2:  # only one class to learn: predict it
            scores[:, j] = np.mean(y_test == y_train[0])
            continue
        for i in range(m.shape[1]):
            x_train, x_test = m[train, i:i + 1], m[test, i:i + 1]
            if np.ptp(m[:, i]) == 0.0:  # dead latent: no information, score it as chance
                pred = np.full(len(test), np.bincount(y_train).argmax())
            else:
                if classifier == "svm":
                    clf = LinearSVC(C=SAP_C, class_weight="balanced", random_state=seed)
                else:  # K - 1 thresholds, placed greedily (a tree with K leaves on one latent)
                    k = int(np.unique(y_train).size)
                    clf = DecisionTreeClassifier(max_leaf_nodes=k, random_state=seed)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    clf.fit(x_train, y_train)
                pred = clf.predict(x_test)
            scores[i, j] = np.mean(pred == y_test)
    return scores


def sap_per_factor(mu, factors, seed: int = 0, train_fraction: float = TRAIN_FRACTION,
                   classifier: str = "svm") -> np.ndarray:
    """SAP of each factor ``[F]`` (0 for constant factors); ``classifier`` as in :func:`sap`."""
    m, f, varying = _check(mu, factors, min_points=4)
    gaps = _top_two_gap(_sap_scores(m, f, varying, seed, train_fraction, classifier))
    gaps[~varying] = 0.0
    return np.clip(gaps, 0.0, 1.0)


def sap(mu, factors, seed: int = 0, train_fraction: float = TRAIN_FRACTION,
        classifier: str = "svm") -> float:
    """Separated Attribute Predictability, averaged over the factors that vary.

    ``classifier="svm"`` (default) is disentanglement_lib's linear SVM, comparable with
    published numbers: on one latent it places one threshold per class against the rest, so the
    middle classes of a many-class factor are rarely predicted and scores stay small.
    ``"threshold"`` places ``K - 1`` thresholds greedily (a decision tree with ``K`` leaves),
    so a latent that orders the classes predicts all of them. Either way the score of a factor
    is at most ``1 -`` the accuracy of the second-best latent, which is at least chance level.
    """
    _, _, varying = _check(mu, factors, min_points=4)
    return float(sap_per_factor(mu, factors, seed, train_fraction, classifier)[varying].mean())


# --------------------------------------------------------------------------------------------
# DCI
# --------------------------------------------------------------------------------------------


def dci_importance(mu, factors, seed: int = 0, train_fraction: float = TRAIN_FRACTION,
                   n_estimators: int = DCI_TREES, min_samples_leaf: int = DCI_MIN_LEAF):
    """Importance matrix ``R [d, F]`` (columns of constant factors are 0) and the per-factor
    held-out accuracies ``[F]`` (1 for constant factors) of the per-factor random forests."""
    from sklearn.ensemble import RandomForestClassifier

    m, f, varying = _check(mu, factors, min_points=4)
    train, test = _split(m.shape[0], seed, train_fraction)
    importance = np.zeros((m.shape[1], f.shape[1]))
    accuracy = np.ones(f.shape[1])
    for j in np.flatnonzero(varying):
        forest = RandomForestClassifier(
            n_estimators=n_estimators,
            max_features=None,
            min_samples_leaf=min_samples_leaf,
            random_state=seed,
            n_jobs=1,
        )
        forest.fit(m[train], f[train, j])
        importance[:, j] = np.abs(forest.feature_importances_)
        accuracy[j] = np.mean(forest.predict(m[test]) == f[test, j])
    return importance, accuracy


def _one_minus_entropy(p: np.ndarray, axis: int) -> np.ndarray:
    """1 - normalised entropy along ``axis`` (base = its length), disentanglement_lib style."""
    k = p.shape[axis]
    if k == 1:
        return np.ones(p.shape[1 - axis])
    q = p + 1e-11
    q = q / q.sum(axis=axis, keepdims=True)
    return 1.0 - (-(q * np.log(q)).sum(axis=axis) / np.log(k))


def _dci_from_importance(r: np.ndarray) -> tuple[float, float]:
    weights = r if r.sum() > 0 else np.ones_like(r)
    per_code = _one_minus_entropy(r, axis=1)
    disent = float(np.sum(per_code * weights.sum(axis=1) / weights.sum()))
    per_factor = _one_minus_entropy(r, axis=0)
    complete = float(np.sum(per_factor * weights.sum(axis=0) / weights.sum()))
    return float(np.clip(disent, 0.0, 1.0)), float(np.clip(complete, 0.0, 1.0))


def dci(mu, factors, seed: int = 0, train_fraction: float = TRAIN_FRACTION,
        n_estimators: int = DCI_TREES, min_samples_leaf: int = DCI_MIN_LEAF) -> dict:
    """DCI: ``dict(disentanglement, completeness, informativeness)`` over the varying factors."""
    _, _, varying = _check(mu, factors, min_points=4)
    r, acc = dci_importance(mu, factors, seed, train_fraction, n_estimators, min_samples_leaf)
    d, c = _dci_from_importance(r[:, varying])
    return {"disentanglement": d, "completeness": c, "informativeness": float(acc[varying].mean())}


# --------------------------------------------------------------------------------------------
# Everything at once
# --------------------------------------------------------------------------------------------


def all_metrics(mu, factors, factor_names, seed: int = 0, sap_classifier: str = "svm") -> dict:
    """MIG, SAP (with ``sap_classifier``, see :func:`sap`) and DCI of one representation.

    Returns ``{"mig", "sap", "dci_disentanglement", "dci_completeness", "dci_informativeness"}``
    (floats) and ``"per_factor"``: ``{name: {"mig", "sap", "dci_informativeness"}}`` for the
    factors that vary (constant factors are left out).
    """
    m, f, varying = _check(mu, factors, min_points=4)
    names = tuple(str(s) for s in factor_names)
    if len(names) != f.shape[1]:
        raise ValueError(f"factor_names: {len(names)} names for {f.shape[1]} factors")
    mig_f = mig_per_factor(m, f)
    sap_f = _top_two_gap(_sap_scores(m, f, varying, seed, TRAIN_FRACTION, sap_classifier)).clip(0.0, 1.0)
    r, acc = dci_importance(m, f, seed)
    d, c = _dci_from_importance(r[:, varying])
    return {
        "mig": float(mig_f[varying].mean()),
        "sap": float(sap_f[varying].mean()),
        "dci_disentanglement": d,
        "dci_completeness": c,
        "dci_informativeness": float(acc[varying].mean()),
        "per_factor": {
            names[j]: {"mig": float(mig_f[j]), "sap": float(sap_f[j]), "dci_informativeness": float(acc[j])}
            for j in np.flatnonzero(varying)
        },
    }
