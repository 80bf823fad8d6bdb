"""Conformance entries for the sign family (see tests/_catalogue.py)."""

ENTRIES: list = []
