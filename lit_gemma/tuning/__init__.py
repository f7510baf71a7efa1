"""Tuning data: supervised and preference sets, and their hygiene review."""
