"""Mpi: ``processCountPerInstance`` x ``instanceCount`` processes started by one Open MPI
``mpirun`` (as Azure does: the user's command must not call ``mpirun`` itself).

Open MPI gives each rank ``OMPI_COMM_WORLD_RANK/SIZE/LOCAL_RANK/LOCAL_SIZE``; amlite adds
``AZ_BATCH_MASTER_NODE`` (``127.0.0.1:<free port>``). Every rank runs on this host, so the
local rank and size are the world's. Each rank writes its own log through a small ``bash``
wrapper; ``mpirun``'s own messages go to ``user_logs/mpirun.txt``. Open MPI is kept on the
loopback interface and on this machine (no ssh).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from amlite.domain.specs import Distribution, Mpi
from amlite.executors._base import ProcessSpec
from amlite.executors.launchers._base import (
    SINGLE_LOG,
    Launch,
    Launcher,
    LaunchRequest,
    free_ports,
    own,
)

MPIRUN = "mpirun"
MPIRUN_LOG = "user_logs/mpirun.txt"
RANK_MARK = "@RANK@"

# $0: the log path with @RANK@ for the rank; $1: the user's command
RANK_WRAPPER = (
    'rank="${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}"; '
    'exec >>"${0//@RANK@/$rank}" 2>&1; '
    'exec bash -c "$1"'
)

MPIRUN_ENV = {
    "OMPI_ALLOW_RUN_AS_ROOT": "1",
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "OMPI_MCA_plm": "isolated",  # this machine only: no ssh/rsh needed or used
    "OMPI_MCA_btl": "self,vader,tcp",
    "OMPI_MCA_btl_tcp_if_include": "lo",
    "OMPI_MCA_oob_tcp_if_include": "lo",
    "OMPI_MCA_btl_vader_single_copy_mechanism": "none",  # CMA needs ptrace, absent in containers
}


def missing_mpirun(path: str) -> str:
    return (
        f"the Mpi distribution starts its processes with {MPIRUN} (Open MPI), which is not on "
        f"the job's PATH ({path}): install Open MPI on the amlite host (e.g. apt-get install "
        "openmpi-bin) or use a PyTorch or TensorFlow distribution"
    )


class MpiLauncher(Launcher):
    kind = Mpi.kind

    def process_count(self, distribution: Distribution | None, nodes: int) -> int:
        per_instance = own(distribution, Mpi).process_count_per_instance
        return (1 if per_instance is None else per_instance) * nodes

    def launch(self, request: LaunchRequest) -> Launch:
        if request.path is not None and shutil.which(MPIRUN, path=request.path) is None:
            return Launch(fail_reason=missing_mpirun(request.path))
        total = self.process_count(request.distribution, request.nodes)
        (port,) = free_ports(1)
        user_logs = Path(request.artifacts_dir)
        rank_log = SINGLE_LOG if total == 1 else f"user_logs/std_log_process_{RANK_MARK}.txt"
        argv = [
            MPIRUN,
            "-np",
            str(total),
            "--oversubscribe",
            "--allow-run-as-root",
            "--bind-to",
            "none",
            "bash",
            "-c",
            RANK_WRAPPER,
            str(user_logs / rank_log),
            request.command,
        ]
        env = {
            **MPIRUN_ENV,
            "AZ_BATCH_MASTER_NODE": f"{request.host(0)}:{port}",
            "AZ_BATCHAI_MPI_MASTER_NODE": request.host(0),
        }
        return Launch([ProcessSpec(name=MPIRUN, log=MPIRUN_LOG, env=env, argv=argv)])
