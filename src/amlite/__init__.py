"""amlite: a self-hosted implementation of the Azure ML jobs service.

The service's api-version is 2021-03-01-preview.
"""

__version__ = "0.1.0"
API_VERSION = "2021-03-01-preview"
