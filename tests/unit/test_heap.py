"""factory.heap.settle: a worker's long-lived objects frozen once, later garbage still
collected (in a fresh interpreter, so the test process's own heap is left alone)."""

import subprocess
import sys

_SCRIPT = r"""
import gc, json
from factory.heap import settle

class Node:
    def __init__(self):
        self.other = self

kept = [Node() for _ in range(1000)]  # alive when the worker settles: frozen, never scanned again
settle()
frozen = gc.get_freeze_count()
settle()  # only the first call does anything
again = gc.get_freeze_count()
for _ in range(500):
    Node()  # cycles made after settling: garbage the collector must still find
print(json.dumps({"frozen": frozen, "again": again, "collected": gc.collect(), "kept": len(kept)}))
"""


def test_settle_freezes_what_lives_once_and_later_garbage_is_still_collected():
    out = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, check=True)
    got = __import__("json").loads(out.stdout.strip().splitlines()[-1])
    assert got["frozen"] >= 1000  # the 1000 live nodes (and the interpreter's own objects)
    assert got["again"] == got["frozen"]
    assert got["collected"] >= 500  # each later cycle found and freed
    assert got["kept"] == 1000
