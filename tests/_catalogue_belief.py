"""Conformance entries for the belief family (see tests/_catalogue.py)."""

ENTRIES: list = []
