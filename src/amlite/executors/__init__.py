"""Executors start the work of a job and report on it: local process trees (default), Ray later."""
