"""The `clanka` command line, one module per job.

- `launch`: the console script (stop handlers first, then everything else);
- `main`: the assembled app, every command registered;
- `common`: the app object, option types, errors and output every command shares;
- `data`, `runs`, `sweeps`, `live`, `store`: the commands, by group;
- `render`: tables for people; `settings`: defaults from the environment.

This package's own import is light on purpose: `launch` lives in it.
"""
