"""The learning loop: trade review, pattern library, knowledge brain, reflection, adaptation.

Python over a run's own events, run at points of event time by the scheduler
(replay.core.scheduler, DESIGN.md section 4b): whatever it computes at time t reads only
events with time <= t, and whatever it changes reaches the kernel as control rows.
"""
