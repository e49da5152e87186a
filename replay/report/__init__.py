"""What a run did, for people: its metrics (the report) and `explain`.

The bottom layer of `replay`: it reads events and the store, and imports no other part
of `replay`.
"""
