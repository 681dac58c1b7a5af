"""The keys amlite writes into a job's ``properties`` (one place for each).

Trials carry ``hyperparameters``, ``sweep_index`` and ``parent_run_id`` in their user
properties (written when the controller creates them); the rest are system properties
(``JobRecord.system_properties``), shown merged into ``properties`` on GET. The controller
writes them; the studio, the CLI and the MLflow routes read them.
"""

from __future__ import annotations

HYPERPARAMETERS = "hyperparameters"
"""A trial's parameter values, JSON with sorted keys."""
SWEEP_INDEX = "sweep_index"
"""A trial's index in its sweep (decimal text)."""
PARENT_RUN_ID = "parent_run_id"
"""A trial's sweep."""
SCORE = "score"
"""A trial's best primary-metric value; on a sweep, its best trial's."""
BEST_CHILD_RUN_ID = "best_child_run_id"
"""A sweep's best trial so far."""
EARLY_TERMINATED = "early_terminated"
"""``"true"`` on a trial an early-termination policy cancelled."""
PRIMARY_METRIC = "primary_metric"
SPACE_SIZE = "space_size"
MAX_TOTAL_TRIALS = "max_total_trials"
MAX_CONCURRENT_TRIALS = "max_concurrent_trials"
