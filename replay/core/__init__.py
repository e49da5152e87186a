"""Running the kernel over the store: the replay runner, its input merge, the run families.

The lowest layer of `replay` above `replay.report`: replay, sweeps and live runs all
build on it, and it imports none of them.
"""
