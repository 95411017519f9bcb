"""Benchmarks for Hive: engine overhead against LangGraph (``bench/run.py``) and more.

Not part of the installed distribution; run from a checkout (see
``docs/performance.md``).
"""
