"""Ray job entrypoint for ``factory generate``: the same arguments, the same code.

    ray job submit --working-dir . -- python -m jobs.generate configs/quickstart.yaml \\
        --out s3://bucket/datasets/quickstart --samples 10000 --shard-size 500

Add ``--device cuda`` to render on the cluster's GPUs (one render actor per GPU; the
driver, which may run where there is no GPU, leaves the device check to the actors). Inside a Ray job
``RAY_ADDRESS`` is set, so the job joins the cluster it was submitted to; run directly,
it starts an embedded local Ray. Exit status 2 with one line on
stderr for a FactoryError (bad config, storage, a failed sample).
"""

import sys

from factory.commands.generate import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m jobs.generate"))
