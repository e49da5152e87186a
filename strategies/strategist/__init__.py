"""The LLM strategist: a model proposes the sniper's conditions, the engine decides.

The strategist runs at event-time due points (DESIGN.md section 4b): it builds a prompt
from the log as it stands at t, asks a model (or reuses the answer recorded for that
prompt), validates the answer against bounds and hands the engine control rows stamped
t + a fixed decision delay. Every call is a `strategist` event.
"""
