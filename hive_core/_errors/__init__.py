"""The classes of ``hive_core.errors``, one module per family.

Users import them from ``hive_core.errors`` (which sets their ``__module__``); see
``docs/architecture.md``.
"""
