"""Entry points of the kind a user writes for models trained elsewhere (used by test_imported)."""
