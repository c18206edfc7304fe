"""The ``anp`` command line (click)."""
