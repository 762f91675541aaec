"""Triggers: what starts a workflow (CRM events, webhooks, schedules, manual enrollment).

``registry`` names every kind and its context, ``bus`` announces events after commit,
``matching`` finds the workflows listening, ``dispatch`` enrolls; see docs/triggers.md.
"""
