"""Supervised disentanglement scores from posterior means and ground-truth factor classes.

All functions take posterior means ``mu`` ``[N, d]`` and integer factor classes ``factors``
``[N, F]`` (a 1-D ``[N]`` is one factor) of the same points, and return floats in [0, 1] (or
NaN / None where a score is undefined, below).

- :func:`mig` -- Mutual Information Gap (Chen et al. 2018), as in disentanglement_lib: each
  latent is discretised into 20 equal-width histogram bins; for each factor the gap between the
  two largest mutual informations with a latent, divided by the factor's entropy; averaged.
- :func:`sap` -- Separated Attribute Predictability (Kumar et al. 2018), disentanglement_lib's
  variant for discrete factors: for each (latent, factor) a linear SVM (``C = 0.01``, balanced
  class weights) on that one latent predicts the factor; the score is its accuracy on held-out
  points; per factor the gap between the two best latents; averaged. The SVM's problem
  (scikit-learn's ``LinearSVC``, liblinear's) is solved exactly here, in numpy
  (:func:`linear_svm_1d`): scikit-learn stops near the same minimiser, and per factor its SAP
  differs from this one's by at most two held-out points. (``classifier="threshold"`` instead
  puts K - 1 thresholds on the latent: see :func:`sap`.)
- :func:`dci` -- Disentanglement, Completeness, Informativeness (Eastwood & Williams 2018). The
  importance matrix ``R [d, F]`` comes from one classifier per factor, fitted on training points;
  informativeness is its mean accuracy on held-out points. ``importance="gbt"`` (default) is
  disentanglement_lib's: scikit-learn's ``GradientBoostingClassifier`` at its default settings
  (written out in :data:`GBT_SETTINGS`: 100 stages of depth-3 trees, learning rate 0.1, no
  subsampling), importances its ``feature_importances_`` (mean decrease in impurity).
  ``importance="forest"`` is a random forest as in Eastwood & Williams' paper
  (:data:`FOREST_SETTINGS`: 50 bagged trees over all features, leaves of at least 5 points): much
  cheaper, since gradient boosting fits one tree per class and stage (dSprites' 113 classes make
  11,300 trees per member), but it spreads importance onto latents that carry nothing, so its
  disentanglement and completeness come out lower than disentanglement_lib's (by 0.08-0.28 on
  VAE codes of dSprites). Disentanglement = importance-weighted mean over latents of
  ``1 - H_F(row)``; completeness = importance-weighted mean over factors of ``1 - H_d(column)``
  (entropies in base F and d, rows/columns normalised, + 1e-11 as in disentanglement_lib).

Two ways to choose the points (the workflow's ``scores.protocol``, :mod:`infofrag.stages.scores`):
:func:`all_metrics_split` takes separate training and test points, as disentanglement_lib does
(10,000 and 5,000 points; MIG on the training points, SAP and DCI fitted on the training and
scored on the test points); :func:`all_metrics` (and :func:`mig`, :func:`sap`, :func:`dci`) take
one set of points and split it once, at random from ``seed``, into 2/3 training and 1/3 test
points (MIG on all of them).

Factors that are constant over the points carry no information and are left out of every
score; constant (dead) latents score zero everywhere. **Undefined cases**: with a single varying
factor DCI disentanglement is 1 whatever the code (a latent can only be about that one factor;
disentanglement_lib's formula divides by log 1 = 0 there), and with a single latent DCI
completeness is 1 whatever the code: both are reported as undefined -- NaN from :func:`dci`,
None with the reason under ``"undefined"`` from :func:`all_metrics` -- never as 1.
"""

from __future__ import annotations

import numpy as np

from .defaults import default

__all__ = ["mig", "sap", "dci", "all_metrics", "all_metrics_split", "mig_per_factor", "sap_per_factor",
           "linear_svm_1d", "predict_svm_1d", "dci_importance", "importance_model", "IMPORTANCES",
           "GBT_SETTINGS", "FOREST_SETTINGS"]

MIG_BINS = 20
TRAIN_FRACTION = 2.0 / 3.0
SAP_C = 0.01
IMPORTANCES = ("gbt", "forest", "none")
#: why DCI is missing when its classifiers are not run
NOT_COMPUTED = "not computed (scores.importance: none)"
#: disentanglement_lib's DCI classifier: ``GradientBoostingClassifier()`` at scikit-learn's
#: defaults, written out so that a change of those defaults cannot change the scores silently
#: (``random_state`` is the scores' seed; it only breaks ties between equally good splits)
GBT_SETTINGS = {"loss": "log_loss", "learning_rate": 0.1, "n_estimators": 100, "subsample": 1.0,
                "min_samples_split": 2, "min_samples_leaf": 1, "min_weight_fraction_leaf": 0.0,
                "max_depth": 3, "min_impurity_decrease": 0.0, "max_features": None, "max_leaf_nodes": None,
                "n_iter_no_change": None, "ccp_alpha": 0.0, "init": None, "warm_start": False}
#: the cheaper random forest (Eastwood & Williams' choice)
FOREST_SETTINGS = {"n_estimators": 50, "max_features": None, "min_samples_leaf": 5}


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


def train_size(n: int, train_fraction: float = TRAIN_FRACTION) -> int:
    """Training points of ``n`` split in ``train_fraction`` (at least one of each)."""
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction: must lie in (0, 1), got {train_fraction}")
    return min(n - 1, max(1, int(round(n * train_fraction))))


def _split(n: int, seed: int, train_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    n_train = train_size(n, train_fraction)
    return np.sort(perm[:n_train]), np.sort(perm[n_train:])


def _top_two_gap(scores: np.ndarray) -> np.ndarray:
    """Per column, largest minus second-largest entry (the second is 0 with a single row)."""
    s = np.sort(scores, axis=0)[::-1]
    second = s[1] if s.shape[0] > 1 else np.zeros(s.shape[1])
    return s[0] - second


# --------------------------------------------------------------------------------------------
# MIG
# --------------------------------------------------------------------------------------------


def _mig_factors(m, f, n_bins: int = MIG_BINS) -> np.ndarray:
    """MIG of each factor ``[F]`` on these points (0 for factors constant over them)."""
    codes = _histogram_discretize(m, n_bins)
    out = np.zeros(f.shape[1])
    for j in range(f.shape[1]):
        labels = np.unique(f[:, j], return_inverse=True)[1].reshape(-1)
        if labels.max(initial=0) == 0:
            continue
        mi = np.array([_mutual_info_bits(codes[:, i], labels) for i in range(m.shape[1])])
        out[j] = _top_two_gap(mi[:, None])[0] / _entropy_bits(labels)
    return np.clip(out, 0.0, 1.0)


def mig_per_factor(mu, factors, n_bins: int = MIG_BINS) -> np.ndarray:
    """MIG of each factor ``[F]`` (0 for constant factors)."""
    m, f, _ = _check(mu, factors)
    return _mig_factors(m, f, n_bins)


def mig(mu, factors, n_bins: int = MIG_BINS) -> float:
    """Mutual Information Gap, averaged over the factors that vary."""
    _, _, varying = _check(mu, factors)
    return float(mig_per_factor(mu, factors, n_bins)[varying].mean())


# --------------------------------------------------------------------------------------------
# SAP
# --------------------------------------------------------------------------------------------


SAP_CLASSIFIERS = ("svm", "threshold")


def _sap_scores(m, f, varying, seed, train_fraction, classifier="svm") -> np.ndarray:
    train, test = _split(m.shape[0], seed, train_fraction)
    return _sap_matrix(m, f, varying, train, test, seed, classifier)


def linear_svm_1d(x, y, c: float = SAP_C, max_iter: int = 100):
    """The classifier of disentanglement_lib's SAP on one latent, solved exactly: scikit-learn's
    ``LinearSVC(C=c, class_weight="balanced")`` (liblinear's L2-regularised squared hinge, the
    intercept a feature of value 1 regularised with the weight, one problem per class against
    the rest, a class's own points weighted by its balanced weight and the rest by 1, or one
    problem for two classes with each class weighted) fitted on ``x [n]``, ``y [n]``.

    Each problem is strictly convex in two unknowns, so its minimiser is unique; liblinear stops
    near it (relative tolerance 1e-4), this solves it to rounding with a finite Newton method on
    every class at once (the Hessian is constant while the set of points inside the margin is,
    so the step that finds that set lands on the minimiser). No scikit-learn import: it cost more
    than a member's whole scores. Returns ``(classes, w [P], b [P])``; :func:`predict_svm_1d`.
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    classes, yi = np.unique(y, return_inverse=True)
    yi = yi.reshape(-1)
    k, n = classes.size, x.size
    if k < 2:
        raise ValueError("linear_svm_1d: needs at least two classes")
    weight = n / (k * np.bincount(yi, minlength=k))  # class_weight="balanced"
    if k == 2:  # one problem, classes[1] positive, each class weighted
        sign = np.where(yi == 1, 1.0, -1.0)[None]
        cost = (c * weight[yi])[None]
    else:  # one against the rest: the class's points weighted, the rest at c
        sign = np.where(yi[None, :] == np.arange(k)[:, None], 1.0, -1.0)
        cost = np.where(sign > 0, c * weight[:, None], c)
    w, b = np.zeros(sign.shape[0]), np.zeros(sign.shape[0])

    def objective(w, b):
        m = np.maximum(0.0, 1.0 - sign * (w[:, None] * x + b[:, None]))
        return 0.5 * (w * w + b * b) + (cost * m * m).sum(axis=1)

    for _ in range(max_iter):
        margin = 1.0 - sign * (w[:, None] * x + b[:, None])
        on = cost * (margin > 0)
        gw = w - 2.0 * (on * margin * sign * x).sum(axis=1)
        gb = b - 2.0 * (on * margin * sign).sum(axis=1)
        scale = 1.0 + np.abs(w) + np.abs(b)
        if np.all(np.abs(gw) + np.abs(gb) <= 1e-12 * scale):
            break
        hww, hwb, hbb = 1.0 + 2.0 * (on * x * x).sum(axis=1), 2.0 * (on * x).sum(axis=1), 1.0 + 2.0 * on.sum(axis=1)
        det = hww * hbb - hwb * hwb
        dw, db = -(hbb * gw - hwb * gb) / det, -(hww * gb - hwb * gw) / det
        f0, slope, t = objective(w, b), gw * dw + gb * db, np.ones_like(w)
        for _ in range(60):  # backtracking (Armijo) where the full step overshoots
            worse = objective(w + t * dw, b + t * db) > f0 + 1e-4 * t * slope
            if not worse.any():
                break
            t = np.where(worse, 0.5 * t, t)
        w, b = w + t * dw, b + t * db
    return classes, w, b


def predict_svm_1d(model, x) -> np.ndarray:
    """Classes predicted by :func:`linear_svm_1d`'s model, as ``LinearSVC.predict`` does: two
    classes by the sign of the decision value, more by the largest (the first on a tie)."""
    classes, w, b = model
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    score = w[:, None] * x + b[:, None]
    return classes[(score[0] > 0).astype(int)] if classes.size == 2 else classes[score.argmax(axis=0)]


def _sap_matrix(m, f, varying, train, test, seed, classifier="svm") -> np.ndarray:
    """Held-out accuracy ``[d, F]`` of one classifier per (latent, factor), fitted on ``train``."""
    if classifier not in SAP_CLASSIFIERS:
        raise ValueError(f"classifier: expected one of {SAP_CLASSIFIERS}, got {classifier!r}")
    scores = np.zeros((m.shape[1], f.shape[1]))
    for j in np.flatnonzero(varying):
        y_train, y_test = f[train, j], f[test, j]
        if np.unique(y_train).size < 2:  # only one class to learn: predict it
            scores[:, j] = np.mean(y_test == y_train[0])
            continue
        for i in range(m.shape[1]):
            x_train, x_test = m[train, i], m[test, i]
            if np.ptp(x_train) == 0.0:  # dead latent: no information, score it as chance
                pred = np.full(len(test), np.bincount(y_train).argmax())
            elif classifier == "svm":
                pred = predict_svm_1d(linear_svm_1d(x_train, y_train), x_test)
            else:  # K - 1 thresholds, placed greedily (a tree with K leaves on one latent)
                from sklearn.tree import DecisionTreeClassifier

                k = int(np.unique(y_train).size)
                clf = DecisionTreeClassifier(max_leaf_nodes=k, random_state=seed)
                pred = clf.fit(x_train[:, None], y_train).predict(x_test[:, None])
            scores[i, j] = np.mean(pred == y_test)
    return scores


def sap_per_factor(mu, factors, seed: int = default("scores.seed"), train_fraction: float = TRAIN_FRACTION,
                   classifier: str = "svm") -> np.ndarray:
    """SAP of each factor ``[F]`` (0 for constant factors); ``classifier`` as in :func:`sap`."""
    m, f, varying = _check(mu, factors, min_points=4)
    gaps = _top_two_gap(_sap_scores(m, f, varying, seed, train_fraction, classifier))
    gaps[~varying] = 0.0
    return np.clip(gaps, 0.0, 1.0)


def sap(mu, factors, seed: int = default("scores.seed"), train_fraction: float = TRAIN_FRACTION,
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


def importance_model(importance: str = default("scores.importance"), seed: int = default("scores.seed")):
    """The (unfitted) classifier whose ``feature_importances_`` make DCI's importance matrix:
    ``"gbt"`` (disentanglement_lib's, :data:`GBT_SETTINGS`) or ``"forest"``
    (:data:`FOREST_SETTINGS`)."""
    if importance == "gbt":
        from sklearn.ensemble import GradientBoostingClassifier

        return GradientBoostingClassifier(**GBT_SETTINGS, random_state=seed)
    if importance == "forest":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(**FOREST_SETTINGS, random_state=seed, n_jobs=1)
    if importance == "none":
        raise ValueError("importance 'none' has no classifier: DCI is not computed")
    raise ValueError(f"importance: expected one of {IMPORTANCES}, got {importance!r}")


def _importance_matrix(m, f, varying, train, test, seed, importance):
    """``R [d, F]`` (0 for constant factors) and held-out accuracies ``[F]`` (1 for constant
    factors) of one classifier per varying factor, fitted on ``train``."""
    importance_model(importance, seed)  # refuses an unknown name before any fit
    r = np.zeros((m.shape[1], f.shape[1]))
    accuracy = np.ones(f.shape[1])
    for j in np.flatnonzero(varying):
        y_train = f[train, j]
        if np.unique(y_train).size < 2:  # one class to learn: no latent matters, predict it
            accuracy[j] = float(np.mean(f[test, j] == y_train[0]))
            continue
        model = importance_model(importance, seed)
        model.fit(m[train], y_train)
        r[:, j] = np.abs(model.feature_importances_)
        accuracy[j] = float(np.mean(model.predict(m[test]) == f[test, j]))
    return r, accuracy


def dci_importance(mu, factors, seed: int = default("scores.seed"), train_fraction: float = TRAIN_FRACTION,
                   importance: str = default("scores.importance")):
    """Importance matrix ``R [d, F]`` (columns of constant factors are 0) and the per-factor
    held-out accuracies ``[F]`` (1 for constant factors) of the per-factor classifiers
    (``importance``: ``"gbt"`` or ``"forest"``, see :func:`importance_model`)."""
    m, f, varying = _check(mu, factors, min_points=4)
    train, test = _split(m.shape[0], seed, train_fraction)
    return _importance_matrix(m, f, varying, train, test, seed, importance)


def _one_minus_entropy(p: np.ndarray, axis: int) -> np.ndarray:
    """1 - normalised entropy along ``axis`` (base = its length, at least 2), disentanglement_lib
    style."""
    k = p.shape[axis]
    q = p + 1e-11
    q = q / q.sum(axis=axis, keepdims=True)
    return 1.0 - (-(q * np.log(q)).sum(axis=axis) / np.log(k))


UNDEFINED_DISENTANGLEMENT = ("only one factor varies over these points: every latent can only be about "
                             "that factor, so DCI disentanglement is 1 whatever the code (undefined)")
UNDEFINED_COMPLETENESS = ("the code has a single latent: every factor can only be captured by it, so DCI "
                          "completeness is 1 whatever the code (undefined)")


def _dci_from_importance(r: np.ndarray) -> tuple[float, float]:
    """(disentanglement, completeness) of an importance matrix ``[d, F]`` over the varying
    factors; NaN where undefined (a single factor; a single latent)."""
    d, n_f = r.shape
    weights = r if r.sum() > 0 else np.ones_like(r)
    disent = completeness = float("nan")
    if n_f > 1:
        per_code = _one_minus_entropy(r, axis=1)
        disent = float(np.clip(np.sum(per_code * weights.sum(axis=1) / weights.sum()), 0.0, 1.0))
    if d > 1:
        per_factor = _one_minus_entropy(r, axis=0)
        completeness = float(np.clip(np.sum(per_factor * weights.sum(axis=0) / weights.sum()), 0.0, 1.0))
    return disent, completeness


def _undefined(d: int, n_varying: int) -> dict:
    out = {}
    if n_varying < 2:
        out["disentanglement"] = UNDEFINED_DISENTANGLEMENT
    if d < 2:
        out["completeness"] = UNDEFINED_COMPLETENESS
    return out


def dci(mu, factors, seed: int = default("scores.seed"), train_fraction: float = TRAIN_FRACTION, importance: str = default("scores.importance")) -> dict:
    """DCI over the varying factors: ``dict(disentanglement, completeness, informativeness,
    undefined)``; an undefined score is NaN and ``undefined`` says why ({score: reason})."""
    m, _, varying = _check(mu, factors, min_points=4)
    r, acc = dci_importance(mu, factors, seed, train_fraction, importance)
    d, c = _dci_from_importance(r[:, varying])
    return {"disentanglement": d, "completeness": c, "informativeness": float(acc[varying].mean()),
            "undefined": _undefined(m.shape[1], int(varying.sum()))}


# --------------------------------------------------------------------------------------------
# Everything at once
# --------------------------------------------------------------------------------------------


def _all(m, f, varying, names, train, test, mig_points, seed, sap_classifier, importance) -> dict:
    if len(names) != f.shape[1]:
        raise ValueError(f"factor_names: {len(names)} names for {f.shape[1]} factors")
    mig_f = _mig_factors(m if mig_points is None else m[mig_points], f if mig_points is None else f[mig_points])
    mig_f[~varying] = 0.0
    sap_f = _top_two_gap(_sap_matrix(m, f, varying, train, test, seed, sap_classifier)).clip(0.0, 1.0)
    if importance == "none":  # DCI's classifiers not run (they cost most of a zoo's scores)
        r, acc = np.full((m.shape[1], f.shape[1]), np.nan), np.full(f.shape[1], np.nan)
        d = c = np.nan
        undefined = {f"dci_{k}": NOT_COMPUTED for k in ("disentanglement", "completeness", "informativeness")}
    else:
        r, acc = _importance_matrix(m, f, varying, train, test, seed, importance)
        d, c = _dci_from_importance(r[:, varying])
        undefined = {f"dci_{k}": v for k, v in _undefined(m.shape[1], int(varying.sum())).items()}
    informativeness = None if importance == "none" else float(acc[varying].mean())
    return {
        "mig": float(mig_f[varying].mean()),
        "sap": float(sap_f[varying].mean()),
        "dci_disentanglement": None if np.isnan(d) else d,
        "dci_completeness": None if np.isnan(c) else c,
        "dci_informativeness": informativeness,
        "undefined": undefined,
        "dci_importance": {} if importance == "none" else
        {names[j]: [float(x) for x in r[:, j]] for j in np.flatnonzero(varying)},
        "per_factor": {
            names[j]: {"mig": float(mig_f[j]), "sap": float(sap_f[j]),
                       "dci_informativeness": None if importance == "none" else float(acc[j])}
            for j in np.flatnonzero(varying)
        },
    }


def all_metrics(mu, factors, factor_names, seed: int = default("scores.seed"), sap_classifier: str = "svm",
                importance: str = default("scores.importance")) -> dict:
    """MIG, SAP (with ``sap_classifier``, see :func:`sap`) and DCI (with ``importance``, see
    :func:`importance_model`) of one set of points: MIG on all of them, SAP and DCI fitted on
    2/3 of them (drawn from ``seed``) and scored on the rest.

    Returns ``{"mig", "sap", "dci_disentanglement", "dci_completeness", "dci_informativeness"}``
    (floats; an undefined DCI score is None), ``"undefined"`` ({score: why it is undefined},
    empty when all are defined), ``"dci_importance"`` ({factor: importance of each latent}) and
    ``"per_factor"``: ``{name: {"mig", "sap", "dci_informativeness"}}`` for the factors that vary
    (constant factors are left out).
    """
    m, f, varying = _check(mu, factors, min_points=4)
    names = tuple(str(s) for s in factor_names)
    train, test = _split(m.shape[0], seed, TRAIN_FRACTION)
    return _all(m, f, varying, names, train, test, None, seed, sap_classifier, importance)


def all_metrics_split(mu_train, factors_train, mu_test, factors_test, factor_names, seed: int = default("scores.seed"),
                      sap_classifier: str = "svm", importance: str = default("scores.importance")) -> dict:
    """As :func:`all_metrics`, on separate training and test points (disentanglement_lib's
    protocol): MIG on the training points; SAP's and DCI's classifiers fitted on the training
    points and scored on the test points. A factor counts as varying when it varies over both
    sets together."""
    a, b = np.asarray(mu_train), np.asarray(mu_test)
    fa, fb = np.asarray(factors_train), np.asarray(factors_test)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"mu_train, mu_test: expected [N, d] arrays of the same d, got {a.shape} and {b.shape}")
    if fa.ndim != fb.ndim or (fa.ndim == 2 and fa.shape[1] != fb.shape[1]):
        raise ValueError(f"factors_train, factors_test: expected the same factors, got {fa.shape} and {fb.shape}")
    if len(a) < 2 or len(b) < 1:
        raise ValueError(f"mu_train, mu_test: need at least 2 training and 1 test point, got {len(a)} and {len(b)}")
    m, f, varying = _check(np.concatenate([a, b]), np.concatenate([fa, fb]), min_points=3)
    names = tuple(str(s) for s in factor_names)
    train, test = np.arange(len(a)), np.arange(len(a), len(m))
    return _all(m, f, varying, names, train, test, train, seed, sap_classifier, importance)
