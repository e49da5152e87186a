"""The web dashboard (`clanka serve`): live and analytics pages over a store, read-only."""
