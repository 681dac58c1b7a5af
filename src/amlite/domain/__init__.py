"""Plain-Python domain rules: no I/O, no pydantic, no SQLAlchemy."""
