"""Developer and CI sessions.

Sessions run in the interpreter that runs nox (the README's ``.venv``), so CI and a
developer's machine execute the same tools with the same versions and nothing is
installed twice.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

nox.options.sessions = ["lint", "typing", "tests", "docs", "examples"]
nox.options.default_venv_backend = "none"
nox.options.error_on_missing_interpreters = False

PY = sys.executable
ROOT = Path(__file__).parent


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole repository."""
    session.run(PY, "-m", "ruff", "check", ".")
    session.run(PY, "-m", "ruff", "format", "--check", ".")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict over the packages, examples, the typing tests and the tests."""
    targets = ("hive_core", "hive_dsl", "examples", "typing_tests", "tests")
    session.run(PY, "-m", "mypy", *(t for t in targets if (ROOT / t).exists()))


@nox.session
def tests(session: nox.Session) -> None:
    """The whole pytest suite (property tests included)."""
    session.run(PY, "-m", "pytest", "-q", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Execute every Python block in docs/ and check error codes are documented."""
    session.run(PY, "-m", "pytest", "-q", "tests/test_docs.py")


@nox.session
def examples(session: nox.Session) -> None:
    """Run each example script as a user would."""
    for script in sorted((ROOT / "examples").glob("*.py")):
        session.run(PY, str(script))


@nox.session(default=False)
def postgres(session: nox.Session) -> None:
    """Every default session inside a throwaway PostgreSQL (scripts/with-postgres),
    so the Postgres stores' tests run instead of skipping, as in CI."""
    script = str(ROOT / "scripts" / "with-postgres")
    session.run(script, PY, "-m", "nox", *session.posargs, external=True)


@nox.session(default=False)
def update_snapshots(session: nox.Session) -> None:
    """Rewrite syrupy snapshots; review the diff like code."""
    session.run(PY, "-m", "pytest", "-q", "--snapshot-update", *session.posargs)
    session.run("git", "diff", "--stat", "--", "tests", external=True)
