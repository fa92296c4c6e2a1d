"""Re-read a dataset and check everything: manifest, shards, tars, samples, ground truth.

:func:`validate_dataset` reads every shard of a dataset (a folder or object-store
prefix) and returns a :class:`ValidationResult`: the failures, each
``{"check", "shard", "key", "message"}`` with a short stable check name, and counts.
The checks, each name with what it means, are listed once, in
:data:`factory.trust.validate.checks.CHECKS`; the ground-truth invariants, and why they
hold, are in :mod:`factory.trust.invariants`.

The work is split so that it can be spread over processes or a Ray cluster, and the
modules follow it:

* :mod:`.plan`: the **driver** reads the manifest and the folder listing, runs the
  checks that need the whole dataset's description and lists the shards to check;
* :mod:`.shard` and :mod:`.sample`: one shard's bytes against its record, and every
  sample in it. Everything they need comes in plain picklable values (a
  :class:`~factory.trust.validate.context.Context`), so any worker can run them;
* :mod:`.oracle`: the independent oracle (:mod:`factory.trust.oracle`) on each sample
  at ``Context.oracle`` of its pixels, and its figures over the dataset;
* :mod:`.run`: :func:`validate_dataset` hands the shard list to the ``map_shards``
  engine it is given (:mod:`factory.trust.engine`; the command passes the Ray one for
  ``--engine ray``), then checks across shards (keys unique in the dataset, scenario
  and source totals) and assembles the result (:mod:`.result`).

Nothing here imports Ray.
"""

from factory.trust.validate.checks import CHECKS
from factory.trust.validate.context import Context
from factory.trust.validate.plan import ValidationPlan, plan_validation
from factory.trust.validate.result import DEFAULT_MAX_LISTED, RESULT_FORMAT, ShardResult, ValidationResult, failure
from factory.trust.validate.run import Progress, validate_dataset
from factory.trust.validate.shard import check_shard, read_and_check

__all__ = [
    "CHECKS",
    "DEFAULT_MAX_LISTED",
    "RESULT_FORMAT",
    "Context",
    "Progress",
    "ShardResult",
    "ValidationPlan",
    "ValidationResult",
    "check_shard",
    "failure",
    "plan_validation",
    "read_and_check",
    "validate_dataset",
]
