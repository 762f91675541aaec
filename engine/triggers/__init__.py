"""Triggers: what starts a workflow (CRM events, webhooks, schedules, manual enrollment).

``registry`` names every kind and its context, ``bus`` announces events after commit,
``matching`` finds the workflows listening, ``dispatch`` enrolls; see docs/triggers.md.

The top wing: may import everything below it (runtime, handlers, effects, definition,
language). Nothing in the engine imports it; a host CRM imports only ``triggers.api``.
"""
