"""Shared builders of the test suite: workflow runs, checkout snapshots, result comparisons.

Test modules import from here (never from each other); the fixtures that use these builders
live in ``tests/conftest.py``.
"""
