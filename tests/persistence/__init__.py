"""Persistence tests: a package, so its support modules are imported by package path
(``from .tiny_workflow import ...``) and mypy sees one module per file."""
