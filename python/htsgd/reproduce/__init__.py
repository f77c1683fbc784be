"""Reproductions of the paper's experiments: ``htsgd reproduce <command>`` (see :mod:`htsgd.cli`)."""
