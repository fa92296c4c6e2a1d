"""Ray job entrypoints: ``ray job submit --working-dir . -- python -m jobs.<name> ...``.

Each one parses the same arguments as the matching ``factory`` subcommand and calls
the same code; none has logic of its own.
"""
