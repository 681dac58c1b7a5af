"""Route modules: jobs, assets, datastore files, health."""
