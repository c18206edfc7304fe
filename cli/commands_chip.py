"""Chip commands: ``anp info``."""
