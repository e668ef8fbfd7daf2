"""Rewrite rules, one family per file; canonical.py applies them bottom-up."""
