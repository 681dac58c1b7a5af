"""The ARM template language: expressions, functions, evaluation."""
