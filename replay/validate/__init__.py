"""`clanka validate learning`: does learning help, by a test registered before the run."""
