"""Conformance entries for the factored family (see tests/_catalogue.py)."""

ENTRIES: list = []
