"""The Ray backend: each job a Ray Job on the cluster a Ray compute names.

- ``executor``: ``RayExecutor`` (the server side: ships and submits a job, follows it);
- ``cluster``: the cluster's dashboard (Ray Jobs and the State API) over HTTP, no ``ray``;
- ``ship``: what a job is shipped with (``runtime_env`` packages, its descriptor, what its
  nodes may read and write through the server with its token);
- ``node``: the entrypoint on the cluster (``python -m amlite_node.ray.node``): one node's
  supervisor, with or without the server's filesystem; stdlib only;
- ``gang``: the driver of a multi-node job (imports ``ray``, not amlite).

``node`` and ``gang`` (and this file, stdlib only) are shipped in ``amlite_node`` with the
supervisor package beside them, at the same paths as below ``amlite.executors``: their
relative imports work the same on a node and here.
"""
