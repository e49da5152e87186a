"""Live runs: the paper (and, later, live) loop, its write-ahead log, recovery, status.

`replay.live.paper` is the composition root: the one module that reads the mode.
"""
