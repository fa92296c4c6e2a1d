"""Ray job entrypoint for ``factory validate``: the same arguments, the same code, the
Ray engine by default (one Ray Data task per shard).

    ray job submit --working-dir . -- python -m jobs.validate s3://bucket/datasets/quickstart \\
        --result -

Inside a Ray job ``RAY_ADDRESS`` is set, so the job joins the cluster it was submitted
to; run directly, it starts an embedded local Ray. Exit status 0 when every check
passes, 1 when any fails, 2 with one line on stderr for bad arguments or an
unreachable URL. ``--result -`` prints the JSON result to stdout, which
``ray job logs`` shows; a local ``--result FILE`` is written on the machine running
the driver.
"""

import sys

from factory.commands.validate import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m jobs.validate"))
