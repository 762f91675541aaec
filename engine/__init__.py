"""The workflow engine, in layers ("wings"); each may import only the wings below it.

From top to bottom (checked by import-linter, see ``.importlinter`` and docs/engine.md):

- ``triggers``   what starts a workflow: CRM events, webhooks, schedules, manual enrollment,
                 email tracking events; ``triggers.api`` is all a host CRM app may import.
- ``dryrun``     plays a workflow in memory against sample data; writes nothing.
- ``runtime``    runs enrollments: executor, state machine, scheduler, queue, Celery tasks.
- ``handlers``   one small class per step kind, behind one contract.
- ``effects``    the world a step touches: sending, CRM writes, AI calls, SSRF-safe HTTP,
                 channels, idempotency records, and the live and dry service bundles.
- ``definition`` the workflow format: schema, parser, validation, catalog, export.
- ``language``   templating, conditions, durations, business hours, cron: Django only.

``models.py`` (webhook deliveries) and ``migrations`` sit beside the wings.
"""
