"""Clanka test suite."""
