"""The language of a definition: templating, filters, conditions, durations, business hours, cron.

Pure functions over plain data. May import nothing of ours (no other engine wing, no app
models) — only Django and libraries — so every other layer can use it.
"""
