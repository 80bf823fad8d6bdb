"""Conformance entries for the trust family (see tests/_catalogue.py)."""

ENTRIES: list = []
