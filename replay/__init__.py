"""Application layer: the `clanka` command line, replays, sweeps and reports.

`replay` is the top of the package stack; it is the only package that may compose
`data`, `engine` and `strategies` together.
"""
