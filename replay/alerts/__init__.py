"""Alerts to Telegram and Discord: rules over a run's events, throttled, each one logged.

`rules` turns a batch's events into alerts, `policy` groups, rate-limits and holds them
in quiet hours (in event time, so the same events give the same decisions), `senders`
speak the providers' HTTP APIs with retries, and `service` ties them to a live run and
records every alert sent or suppressed as an `alerts` event.
"""
