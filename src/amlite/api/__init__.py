"""The HTTP API: ARM-shaped REST routes over the services."""
