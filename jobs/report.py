"""Ray job entrypoint for ``factory report``: the same arguments, the same code, the
Ray engine by default (one Ray Data task per shard, merged in dataset order).

    ray job submit --working-dir . -- python -m jobs.report s3://bucket/datasets/quickstart \\
        --out s3://bucket/reports/quickstart

Inside a Ray job ``RAY_ADDRESS`` is set, so the job joins the cluster it was submitted
to; run directly, it starts an embedded local Ray. The report is written by the driver
to ``--out`` (any storage URL: a local folder is on the machine running the driver).
Exit status 0 when written, 2 with one line on stderr for bad arguments, an unreachable
URL or a corrupt shard.
"""

import sys

from factory.commands.report import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m jobs.report"))
