"""The data layer: on-disk layout of datastores and runs, safe paths, data bindings."""
