"""Stage ``scores``: MIG, SAP and DCI of one member (the coarse, model-level view).

Which points and which classifier (config ``scores``; a library call without them takes the
schema's defaults):

- ``protocol: field`` -- disentanglement_lib's protocol: ``n_train`` + ``n_test`` points drawn
  from the dataset by ``seed`` (without replacement; disentanglement_lib draws factor
  combinations with replacement, which at dSprites' 737,280 points repeats about 1% of 15,000
  draws), rendered or loaded, and encoded with the member's own encoder (posterior means): MIG on
  the training points, SAP's and DCI's classifiers fitted on the training points and scored on
  the test points. A dataset with fewer than ``n_train + n_test`` points is used whole, split in
  the proportion ``n_train : n_test``. An imported member given only as a posteriors file has no
  encoder to apply to other points: it is scored on the fingerprint sample (as ``sample``
  below), and its output says so (``protocol``: ``"sample"``, ``protocol_note``).
- ``protocol: sample`` -- the fingerprint sample (N = ``sample.n_points``): MIG on all of it,
  SAP and DCI fitted on 2/3 of it (drawn from ``seed``) and scored on the rest. Cheap, but MIG
  and SAP come out lower than the field's at N of a few hundred.

``importance``: DCI's classifier, ``gbt`` (disentanglement_lib's gradient-boosted trees) or
``forest`` (:mod:`infofrag.metrics`). The output JSON records the protocol actually used, the
classifier and its settings, the numbers of training and test points and where they came from,
so that its numbers can be set beside published ones.
"""

from __future__ import annotations

import time

import numpy as np

from .. import metrics
from ..store import posteriors as posteriors_store
from ..store import sample as sample_store
from ..atomic import write_json
from ..config import MIN_SCORE_POINTS, MIN_SCORE_TEST, MIN_SCORE_TRAIN
from ..defaults import section

PROTOCOLS = ("field", "sample")
#: points encoded per batch when drawing from the dataset (bounds the images held in memory)
CHUNK = 2000


def uses_encoder(settings: dict, member) -> bool:
    """Whether a member's scores follow the field protocol with its own encoder: the protocol is
    ``field`` and the member has an encoder (a trained member, or an imported checkpoint).
    ``member``: a :class:`infofrag.config.Member`."""
    return settings["protocol"] == "field" and (member.trained or member.source["kind"] == "checkpoint")


def rule_inputs(settings: dict, member, posteriors: str, sample: str, model: str, imported: str | None,
                data_files: list) -> dict:
    """The scores job's inputs: the member's posteriors and the sample; for the field protocol
    also its encoder (a trained member's ``model``, an imported one's file) and the data files."""
    out = {"posteriors": posteriors, "sample": sample}
    if uses_encoder(settings, member):
        out.update({"model": model} if member.trained else {"imported": imported})
        out["data"] = list(data_files)
    return out


def rule_settings(settings: dict, member) -> dict:
    """The settings that decide a member's scores (the numbers of points only where they are
    used), so that a setting the job does not read reruns nothing."""
    keys = ("protocol", "importance", "seed") + (("n_train", "n_test") if uses_encoder(settings, member) else ())
    return {k: settings[k] for k in keys}


def field_points(ds, n_train: int, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Dataset indices of the training and test points (disjoint), and a note when the dataset
    is too small for the sizes asked for."""
    n_train, n_test = int(n_train), int(n_test)
    note = None
    if n_train + n_test > ds.n:
        want = n_train + n_test
        n_train = min(ds.n - 1, max(2, int(round(ds.n * n_train / want))))
        n_test = ds.n - n_train
        note = (f"the dataset has {ds.n} points, fewer than the {want} asked for: all of them are used, "
                f"{n_train} for training and {n_test} for testing")
    perm = np.random.default_rng(seed).permutation(ds.n)
    return perm[:n_train].astype(np.int64), perm[n_train:n_train + n_test].astype(np.int64), note


def encode_points(ds, indices, encode) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means ``[n, d]`` of the dataset's points ``indices`` under ``encode`` (x -> mu),
    loaded and encoded in chunks, and their factor classes ``[n, F]``."""
    mus = [np.asarray(encode(ds.get(indices[i:i + CHUNK])), dtype=np.float64)
           for i in range(0, len(indices), CHUNK)]
    mu = np.concatenate(mus)
    if not np.isfinite(mu).all():
        bad = indices[~np.isfinite(mu).all(axis=1)]
        raise ValueError(f"the member's encoder gives NaN/inf posterior means on {len(bad)} of the {len(indices)} "
                         f"dataset points drawn for its scores (e.g. point {int(bad[0])})")
    return mu, ds.factors(indices)


def member_encoder(member: dict, model_path=None, imported_path=None):
    """x -> posterior means, with the member's own encoder; None for a posteriors-only member."""
    kind = member.get("kind", "trained")
    if kind == "posteriors":
        return None
    if kind == "checkpoint":
        from ..imported import ImportedModel

        model = ImportedModel(imported_path, member["entry_point"], member["latent_dim"], member=member["name"])
        return lambda x: model.encode(x)[0]
    from .. import train

    model, _ = train.load_model(model_path)
    return lambda x: train.encode(model, x)[0]


def _settings(settings: dict | None) -> dict:
    s = {**section("scores"), **(settings or {})}
    if s["protocol"] not in PROTOCOLS:
        raise ValueError(f"scores.protocol: expected one of {PROTOCOLS}, got {s['protocol']!r}")
    if s["importance"] not in metrics.IMPORTANCES:
        raise ValueError(f"scores.importance: expected one of {metrics.IMPORTANCES}, got {s['importance']!r}")
    return s


def choose_protocol(s: dict, member_name: str, dataset, member, model_path, imported_path):
    """(protocol, encoder or None, note): the field's protocol with the member's own encoder, or
    the fingerprint sample for a member given as posteriors only (no encoder), which the note
    says."""
    if s["protocol"] != "field":
        return "sample", None, None
    if member is None:
        raise ValueError("scores.protocol 'field' needs the member (its params: how to load its encoder)")
    encode = member_encoder(member, model_path, imported_path)
    if encode is None:
        return "sample", None, (f"member {member_name} was imported as posteriors of the fingerprint sample: there "
                                "is no encoder to apply to other points, so it is scored on the fingerprint sample")
    if dataset is None:
        raise ValueError("scores.protocol 'field' needs the dataset section to draw points from")
    return "field", encode, None


def field_scores(s: dict, dataset: dict, encode, factor_names, threads: int):
    """Scores on points drawn from the dataset and encoded by the member: (scores, points, note)."""
    import torch

    from .. import data

    torch.set_num_threads(threads)
    ds = data.make_dataset(dict(dataset))
    train_idx, test_idx, note = field_points(ds, s["n_train"], s["n_test"], int(s["seed"]))
    mu_train, f_train = encode_points(ds, train_idx, encode)
    mu_test, f_test = encode_points(ds, test_idx, encode)
    scores = metrics.all_metrics_split(mu_train, f_train, mu_test, f_test, factor_names, seed=int(s["seed"]),
                                       importance=s["importance"])
    points = {"points": f"drawn from the dataset ({ds.n} points) by the seed, encoded by the member",
              "n_train": len(train_idx), "n_test": len(test_idx), "n_mig": len(train_idx)}
    return scores, points, note


def sample_scores(s: dict, mu, sample):
    """Scores on the fingerprint sample (SAP and DCI split as :func:`infofrag.metrics.all_metrics`
    splits it): (scores, points)."""
    n = int(mu.shape[0])
    n_train = metrics.train_size(n)
    scores = metrics.all_metrics(mu, sample.factors, sample.factor_names, seed=int(s["seed"]),
                                 importance=s["importance"])
    return scores, {"points": "the fingerprint sample", "n_train": n_train, "n_test": n - n_train, "n_mig": n}


def classifier_record(importance: str) -> dict:
    """Which classifier made DCI's numbers, in each scores file: only gradient boosting (the
    field's) compares with published values."""
    gbt = importance == "gbt"
    if importance == "none":
        return {"importance": "none", "importance_model": None, "importance_settings": {},
                "dci_comparable_with_published": False,
                "dci_note": "DCI not computed (scores.importance: none): MIG and SAP only", "sap_classifier": "svm"}
    return {"importance": importance,
            "importance_model": "GradientBoostingClassifier" if gbt else "RandomForestClassifier",
            "importance_settings": dict(metrics.GBT_SETTINGS if gbt else metrics.FOREST_SETTINGS),
            "dci_comparable_with_published": gbt,
            **({} if gbt else {"dci_note": "DCI from a random forest: its disentanglement and completeness come out "
                                            "lower than gradient boosting's (the field's, disentanglement_lib's); "
                                            "do not set them beside published values"}),
            "sap_classifier": "svm"}


def run(posteriors_path, sample_path, out_json, settings: dict | None = None, dataset: dict | None = None,
        member: dict | None = None, model_path=None, imported_path=None, threads: int = 1) -> dict:
    """Score one member and write ``out_json``.

    ``settings``: the config's ``scores`` section (missing keys: the schema's defaults);
    ``dataset``: the config's ``dataset`` section and ``member`` the member's params (a trained
    member's settings, or an imported member's source), both needed by the field protocol, with
    ``model_path`` (a trained member's checkpoint) or ``imported_path`` (an imported one's file).
    """
    s = _settings(settings)
    t0 = time.time()
    post = posteriors_store.read(posteriors_path, check=False)  # verified by the job
    sample = sample_store.read(sample_path, check=False)
    out = {"member": post.member}
    if not sample.factor_names:
        out.update(status="no_factors", message="the dataset has no ground-truth factors")
        write_json(out_json, out)
        return {"status": out["status"]}
    protocol, encode, note = choose_protocol(s, post.member, dataset, member, model_path, imported_path)
    if protocol == "sample" and post.mu.shape[0] < MIN_SCORE_POINTS:
        out.update(status="too_few_points", protocol=protocol, requested_protocol=s["protocol"],
                   message=f"the fingerprint sample has {post.mu.shape[0]} points, fewer than the {MIN_SCORE_POINTS} "
                           f"MIG, SAP and DCI need ({MIN_SCORE_TRAIN} training, {MIN_SCORE_TEST} test)"
                           + (f"; {note}" if note else ""))
        write_json(out_json, out)
        return {"status": out["status"]}
    if protocol == "field":
        scores, points, note = field_scores(s, dataset, encode, sample.factor_names, threads)
    else:
        scores, points = sample_scores(s, post.mu, sample)
    out.update(status="ok", protocol=protocol, requested_protocol=s["protocol"], **points, seed=int(s["seed"]),
               **classifier_record(s["importance"]))
    if note:
        out["protocol_note"] = note
    out.update(scores)
    write_json(out_json, out)
    return {"status": out["status"], "protocol": protocol, "n_train": out["n_train"], "n_test": out["n_test"],
            "seconds": round(time.time() - t0, 3)}
