"""The effects a step has on the world, and the guards around them.

Outbound sending (``outbound``), CRM writes (``crm_ops``), AI calls (``ai_ops``), the
SSRF-safe HTTP client (``safe_http``, ``net/``), channel backends (``channels/``), email
link tracking tokens, idempotency records (exactly-once side effects), contact adapters,
the record registry, and the live and dry service bundles handed to handlers. The
step/effect contract (``StepContext``, ``StepFailed``) is in ``contract``.

May import ``engine.definition`` and ``engine.language`` and the apps' models and services;
never the handlers, runtime, dry-run or triggers above it.
"""
