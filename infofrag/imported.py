"""Members trained elsewhere: a checkpoint loaded by the user's own entry point, or a file of
posteriors of the run's fingerprint sample computed in another framework.

An entry point is ``package.module:function``, importable where the workflow runs. Called with
the checkpoint's path it returns one of: an object with ``encode(x) -> (mu, logvar)`` (and
optionally ``decode(z)``, for traversals), a callable ``x -> (mu, logvar)``, or a pair
``(encoder, decoder)`` (the decoder may be None). ``x`` is a float32 torch tensor
``[n, *input_shape]`` of the sample's inputs in [0, 1].

A posteriors file (``.npz``, or a Zarr store) holds ``mu`` and ``logvar`` ``[N, d]`` of the
run's fingerprint sample, in its order, and ``sample_digest``: the digest of that sample
(:func:`infofrag.store.sample.content_digest`, printed by ``python -m infofrag sample``), so that
posteriors of another sample are refused instead of being compared with the wrong points.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
from pathlib import Path

import numpy as np

from .errors import DataFileError

__all__ = ["posteriors_shape", "read_posteriors", "module_source", "module_digest", "load_entry_point",
           "ImportedModel"]


def _fail(path, problem: str):
    raise DataFileError(f"{path}: {problem}")


def _open(path):
    """(mu, logvar, sample_digest) as lazily readable objects of an .npz file or a Zarr store."""
    p = Path(path)
    if not p.exists():
        _fail(path, "posteriors file not found")
    if p.is_dir():
        import zarr

        try:
            g = zarr.open_group(str(p), mode="r")
            digest = g.attrs.get("sample_digest")
            return g["mu"], g["logvar"], digest
        except KeyError as exc:
            _fail(path, f"the Zarr store has no array {exc} (expected mu and logvar [N, d])")
        except Exception as exc:  # noqa: BLE001 - zarr's many errors: one message naming the file
            _fail(path, f"not a readable Zarr store ({type(exc).__name__}: {exc})")
    try:
        z = np.load(p, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001
        _fail(path, f"not a readable .npz file ({type(exc).__name__}: {exc})")
    if not hasattr(z, "files"):
        _fail(path, "a single array: expected an .npz file with mu, logvar and sample_digest")
    missing = [k for k in ("mu", "logvar") if k not in z.files]
    if missing:
        _fail(path, f"missing array(s) {missing} (has {sorted(z.files)})")
    digest = str(z["sample_digest"]) if "sample_digest" in z.files else None
    return z["mu"], z["logvar"], digest


def posteriors_shape(path) -> tuple[int, int]:
    mu, logvar, _ = _open(path)
    if len(mu.shape) != 2:
        _fail(path, f"mu must be [N, d], got shape {tuple(mu.shape)}")
    return int(mu.shape[0]), int(mu.shape[1])


def read_posterior_arrays(path) -> tuple[np.ndarray, np.ndarray]:
    """``mu``, ``logvar`` of a posteriors file as stored (no checks beyond readability)."""
    mu, logvar, _ = _open(path)
    return np.asarray(mu), np.asarray(logvar)


def read_posteriors(path, n: int, sample_digest: str) -> tuple[np.ndarray, np.ndarray]:
    """``mu``, ``logvar`` float32 ``[n, d]`` of a posteriors file, checked against the run's
    sample (its size and digest); DataFileError naming the file when anything is off."""
    mu, logvar, digest = _open(path)
    mu, logvar = np.asarray(mu), np.asarray(logvar)
    if digest is None:
        _fail(path, "no sample_digest: the file must state which fingerprint sample it encodes "
                    "(`infofrag sample CONFIG --out sample.npz` writes the sample and prints its digest)")
    if digest != sample_digest:
        _fail(path, f"encodes another fingerprint sample (sample_digest {digest[:16]}..., this run's is "
                    f"{sample_digest[:16]}...): encode the run's sample")
    if mu.ndim != 2 or mu.shape != logvar.shape:
        _fail(path, f"mu {mu.shape} and logvar {logvar.shape} must both be [N, d]")
    if mu.shape[0] != n:
        _fail(path, f"holds {mu.shape[0]} points, the fingerprint sample has {n} (sample.n_points)")
    for name, a in (("mu", mu), ("logvar", logvar)):
        if a.dtype.kind not in "fiu":
            _fail(path, f"{name} must be real numbers, got dtype {a.dtype}")
        bad = ~np.isfinite(a)
        if bad.any():
            i, c = np.argwhere(bad)[0]
            _fail(path, f"{name} has {int(bad.sum())} NaN/inf value(s) (first at point {i}, channel {c})")
    from .measures import check_posteriors

    try:
        check_posteriors(mu, logvar, "")
    except ValueError as exc:
        _fail(path, str(exc).lstrip(": "))
    return mu.astype(np.float32), logvar.astype(np.float32)


def module_source(entry_point: str) -> Path | None:
    """The source file of an entry point's module, without importing the module itself."""
    module = entry_point.split(":", 1)[0]
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec is not None and spec.origin and spec.has_location else None


def _library_dirs() -> list[Path]:
    """Where the standard library and installed packages live (not the user's own code)."""
    import site
    import sysconfig

    dirs = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    dirs.update(site.getsitepackages() + [site.getusersitepackages()])
    return [Path(d).resolve() for d in dirs if d]


def _imported_names(tree, module: str, is_package: bool) -> set[str]:
    """The absolute module names a module's import statements name (relative ones resolved)."""
    import ast

    package = module if is_package else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[:len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join(parts + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in out if m}


def user_modules(entry_point: str) -> dict[str, Path]:
    """The user's own modules an entry point runs: its module and, transitively, the modules it
    imports that lie outside the standard library, the installed packages and infofrag."""
    import ast

    libraries = _library_dirs() + [Path(__file__).resolve().parent]
    found: dict[str, Path] = {}
    todo = [entry_point.split(":", 1)[0]]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError, AttributeError):
            continue
        if spec is None or not spec.has_location or not spec.origin or not spec.origin.endswith(".py"):
            continue
        path = Path(spec.origin).resolve()
        if any(path.is_relative_to(d) for d in libraries):
            continue
        found[name] = path
        tree = ast.parse(path.read_text(), filename=str(path))
        parents = {name.rsplit(".", k)[0] for k in range(1, name.count(".") + 1)}  # their __init__ runs too
        todo += sorted((_imported_names(tree, name, path.name == "__init__.py") | parents) - set(found))
    return found


def module_digest(entry_point: str) -> str | None:
    """The digest of the user's code an entry point runs (:func:`user_modules`), each module by
    its syntax without docstrings (a comment changes nothing; a changed helper module does):
    part of the member's key."""
    from .provenance.digests import syntax_digest

    modules = user_modules(entry_point)
    if not modules:
        return None
    h = hashlib.sha256()
    for name, path in sorted(modules.items()):
        h.update(f"{name}\0{syntax_digest(path)}\n".encode())
    return h.hexdigest()


def describe(x) -> str:
    """What an input batch is: shape, dtype and range (for messages about the user's encoder)."""
    a = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x)
    rng = f" in [{float(a.min()):.3g}, {float(a.max()):.3g}]" if a.size else ""
    return f"of shape {list(a.shape)}, {a.dtype}{rng}"


def probe(member: str, checkpoint, entry_point: str, latent_dim: int, x) -> "ImportedModel":
    """Load an imported member's checkpoint with its entry point and encode ``x`` (two points of
    the run's sample), checking what comes back: the check ``check-config`` and the workflow make
    before any job, so that every mistake is named up front (member, entry point, x, what came back)."""
    model = ImportedModel(checkpoint, entry_point, latent_dim, member=member)
    model.encode(x)
    return model


def load_entry_point(entry_point: str):
    module, _, attr = entry_point.partition(":")
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # ImportError, or anything the user's module raises on import
        raise DataFileError(f"entry point '{entry_point}': importing {module} raised {type(exc).__name__}: {exc}") \
            from exc
    if not hasattr(mod, attr):
        import difflib

        names = [n for n in dir(mod) if not n.startswith("_") and callable(getattr(mod, n))]
        close = difflib.get_close_matches(attr, names, n=3)
        raise DataFileError(f"entry point '{entry_point}': module {module} ({getattr(mod, '__file__', '?')}) has no "
                            f"'{attr}'" + (f"; did you mean {', '.join(close)}?" if close else
                                           f"; its functions: {', '.join(names[:10])}"))
    fn = getattr(mod, attr)
    if not callable(fn):
        raise DataFileError(f"entry point '{entry_point}' is not callable")
    return fn


class ImportedModel:
    """An imported member as the pipeline uses a trained one: ``encode(x)`` -> (mu, logvar),
    ``decode(z)`` (None when the entry point gave no decoder), ``latent_dim``."""

    def __init__(self, checkpoint, entry_point: str, latent_dim: int, member: str | None = None):
        self.checkpoint, self.entry_point, self.latent_dim = str(checkpoint), entry_point, int(latent_dim)
        self.member = member
        loader = load_entry_point(entry_point)
        try:
            obj = loader(str(checkpoint))
        except Exception as exc:  # the user's code: say whose, and with what
            raise DataFileError(f"{self._who()}: loading the checkpoint raised {type(exc).__name__}: {exc}") from exc
        if isinstance(obj, tuple) and len(obj) == 2:
            self._encode, self._decode = obj
            self.called = "the first of the pair (encoder, decoder)"
        elif hasattr(obj, "encode"):
            self._encode, self._decode = obj.encode, getattr(obj, "decode", None)
            self.called = f"{type(obj).__name__}.encode(x)"
        elif callable(obj):
            self._encode, self._decode = obj, None
            self.called = f"the {type(obj).__name__} itself (it has no encode(): called as x -> (mu, logvar))"
        else:
            raise DataFileError(f"entry point '{entry_point}' returned {type(obj).__name__}: expected an "
                                "object with encode(x), a callable x -> (mu, logvar) or (encoder, decoder)")
        self._module = obj if hasattr(obj, "parameters") else getattr(self._encode, "__self__", None)
        # inference, not training: batch norm from its running statistics, no dropout, so that a
        # point's posterior does not depend on the batch it is encoded in
        for part in (obj, *(obj if isinstance(obj, tuple) else ()), self._module,
                     getattr(self._encode, "__self__", None), getattr(self._decode, "__self__", None)):
            if hasattr(part, "eval") and hasattr(part, "training"):
                part.eval()

    @property
    def has_decoder(self) -> bool:
        return self._decode is not None

    def _who(self) -> str:
        return (f"imported member '{self.member}'" if self.member else "an imported member") + \
            f" (entry point {self.entry_point}, checkpoint {self.checkpoint})"

    def _device(self):
        import torch

        params = getattr(self._module, "parameters", None)
        try:
            return next(params()).device if params else torch.device("cpu")
        except StopIteration:
            return torch.device("cpu")

    def encode(self, x, points_per_pass: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """Posteriors of ``x`` [N, ...] as float32 numpy [N, latent_dim], checked."""
        import torch

        dev = self._device()
        mus, lvs = [], []
        with torch.inference_mode():
            for i in range(0, len(x), points_per_pass):
                xb = torch.as_tensor(np.asarray(x[i:i + points_per_pass]), dtype=torch.float32).to(dev)
                try:
                    out = self._encode(xb)
                except Exception as exc:  # the user's code: say whose, with what x, and what it raised
                    raise DataFileError(f"{self._who()}: {self.called} raised {type(exc).__name__}: {exc} -- "
                                        f"given x {describe(xb)}") from exc
                if not (isinstance(out, (tuple, list)) and len(out) == 2):
                    n = f" of {len(out)} items" if isinstance(out, (tuple, list)) else ""
                    raise DataFileError(f"{self._who()}: {self.called} must return (mu, logvar), got "
                                        f"{type(out).__name__}{n}" + (" (a VAE's forward() that returns (recon, mu, "
                                        "logvar)? give the model an encode(x) method, or return an encoder)"
                                        if isinstance(out, (tuple, list)) and len(out) == 3 else ""))
                mus.append(torch.as_tensor(out[0]).float().cpu().numpy())
                lvs.append(torch.as_tensor(out[1]).float().cpu().numpy())
        mu, lv = np.concatenate(mus), np.concatenate(lvs)
        if mu.shape != (len(x), self.latent_dim) or lv.shape != mu.shape:
            raise DataFileError(f"{self._who()}: the encoder gives mu {list(mu.shape)} and logvar {list(lv.shape)} "
                                f"for x {describe(x)}, expected [{len(x)}, {self.latent_dim}] (latent_dim "
                                f"{self.latent_dim} in the config)")
        if not (np.isfinite(mu).all() and np.isfinite(lv).all()):
            raise DataFileError(f"{self._who()}: the encoder gives NaN/inf posteriors for x {describe(x)}")
        return mu, lv

    def decode(self, z):
        import torch

        if self._decode is None:
            raise DataFileError(f"'{self.checkpoint}': entry point '{self.entry_point}' gave no decoder")
        with torch.inference_mode():
            return self._decode(torch.as_tensor(z).to(self._device()))
