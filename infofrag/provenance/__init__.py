"""Provenance: records of what produced each result, the checks every job makes on its inputs,
digests of files and of code, and the audit back to the models and the config."""

from ..errors import IntegrityError
from .audit import audit, results_root, walked_records
from .digests import (TREE_IGNORE, code_closure, code_digest, digest_path, package_digest,
                      sha256_file, tree_files)
from .records import (FORMAT_VERSION, RECORD_SUFFIX, environment, find_record, make_record, now,
                      read_record, record_path, resolve, verify)

__all__ = ["IntegrityError", "audit", "results_root", "walked_records", "TREE_IGNORE",
           "code_closure", "code_digest", "digest_path", "package_digest", "sha256_file", "tree_files",
           "FORMAT_VERSION", "RECORD_SUFFIX", "environment", "find_record", "make_record", "now",
           "read_record", "record_path", "resolve", "verify"]
