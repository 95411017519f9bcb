"""End-to-end tests of hive serve (a package: its support modules import relatively)."""
