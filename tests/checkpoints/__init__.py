"""Checkpoints tests: a package, so its support modules are imported by package path
(``from .store_support import ...``) and mypy sees one module per file."""
