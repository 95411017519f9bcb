"""Tests of ``hive_dsl`` (a package so its module names never clash with others)."""
