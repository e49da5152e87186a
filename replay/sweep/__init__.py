"""Parameter sweeps: grids and random draws, chunks on an executor, resume, reports.

`grid` makes the sets, `chunk` evaluates a chunk of them in one pass over the data,
`results` keeps them in the store, `run` drives an executor (threads, processes or
`dask`); `walkforward`, `html` and `vbt_compare` build on those.
"""
