"""Use cases shared by the API, the CLI's embedded mode and the scheduler."""
