"""Thin adapters between the web and the rest: no business rules live here."""
