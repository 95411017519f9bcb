"""Service tests: a package, so its support modules are imported by package path
(``from .service_graphs import ...``) and mypy sees one module per file."""
