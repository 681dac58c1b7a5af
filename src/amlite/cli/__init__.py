"""The ``amlite`` command line, shaped like ``az ml``: one module per command group."""
