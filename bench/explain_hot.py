"""EXPLAIN the hot paths' queries on the database bench_journeys left behind (1,000,000 contacts).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/automation_studio_journeys \
    .venv/bin/python bench/explain_hot.py

Prints each query's plan: none may scan a tenant's contacts (bench/README.md keeps the output).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    import django

    django.setup()
    from django.db import connection, transaction
    from django.utils import timezone

    from crm.models import Contact, Tag
    from engine.effects.contacts import _with_tags
    from engine.effects.crm_ops import link_named_statement, links_named_statement
    from engine.runtime.enrollment import _sequence_sql
    from workflows.models import Enrollment, SideEffect, Workflow

    tenant_id = Contact.objects.filter(email="c1@bench.example").values_list("tenant_id", flat=True)
    tenant_id = tenant_id.first()
    enrollment = Enrollment.objects.order_by("-pk").first()
    workflow = Workflow.objects.filter(tenant_id=tenant_id).first()
    effect = SideEffect.objects.order_by("-pk").first()
    contacts = Contact.objects.filter(tenant_id=tenant_id)
    queries = {
        "webhook: workflow by token": Workflow.objects.filter(webhook_token=workflow.webhook_token),
        "webhook: contact by email (case-insensitive)": contacts.filter(
            email__iexact="C500000@Bench.Example"
        ).order_by("pk")[:1],
        "webhook: contact by phone (E.164)": contacts.filter(phone="+49151000500000").order_by(
            "pk"
        )[:1],
        "step: enrollment lock": Enrollment.objects.select_for_update().filter(pk=enrollment.pk),
        "step: contact snapshot with its tag names": _with_tags(Contact, enrollment.contact_id),
        "step: side-effect row by key": SideEffect.objects.filter(key=effect.key),
        "step: tag by name": Tag.objects.filter(tenant_id=tenant_id, name="t0"),
    }
    print(f"{contacts.count():,} contacts in the tenant\n")
    for label, queryset in queries.items():
        print(f"-- {label}")
        with transaction.atomic():  # the lock needs one; EXPLAIN ANALYZE changes nothing
            print(queryset.explain(analyze=True).replace("\n", "\n   "), "\n")
    # Raw SQL statements; ANALYZE runs an INSERT, so each is rolled back.
    raw = {
        "enroll: the contact's last sequence in the workflow": (
            _sequence_sql(connection.vendor),
            [enrollment.workflow_id, enrollment.contact_id],
        ),
        "step: tag found and linked (add_tag, one statement)": (
            link_named_statement(),
            [tenant_id, "t0", enrollment.contact_id, timezone.now()],
        ),
        "step: a run of tags found and linked (add_tag × 5, one statement)": (
            links_named_statement(5),
            [tenant_id, *[f"t{i}" for i in range(5)], enrollment.contact_id, timezone.now()],
        ),
    }
    for label, (sql, params) in raw.items():
        print(f"-- {label}")
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN ANALYZE {sql}", params)
            print("   " + "\n   ".join(row[0] for row in cursor.fetchall()), "\n")
            transaction.set_rollback(True)
    # The webhook's one statement: its contact found by email and its delivery recorded.
    print("-- webhook: contact found and delivery recorded (one statement)")
    sql, params = _webhook_statement(workflow, tenant_id)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN ANALYZE {sql}", params)
        print("   " + "\n   ".join(row[0] for row in cursor.fetchall()), "\n")
        transaction.set_rollback(True)


def _webhook_statement(workflow, tenant_id: int) -> tuple[str, list]:
    """The SQL and parameters the webhook request runs to find its contact and record the
    delivery (``webhooks._record_for_match``), caught as it runs in a rolled-back transaction."""
    from django.db import connection, transaction
    from django.utils import timezone

    from engine.models import WebhookDelivery
    from engine.triggers.webhooks import _contact_id_sql, _record_for_match

    caught = []

    def catch(execute, sql, params, many, context):
        caught.append((sql, list(params)))
        return execute(sql, params, many, context)

    delivery = WebhookDelivery(
        workflow=workflow, delivery_id="explain", signature="explain", sent_at=timezone.now(),
        trigger={"type": "webhook", "body": {}, "contact_id": None},
    )  # fmt: skip
    with transaction.atomic(), connection.execute_wrapper(catch):
        lookup = _contact_id_sql("email")  # the contact's id by email, as the request has it
        _record_for_match(delivery, lookup, tenant_id, "C500000@Bench.Example")
        transaction.set_rollback(True)
    return caught[-1]


if __name__ == "__main__":
    # Set here, not on import: the tests import this module to keep it in step with the code.
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    os.environ.setdefault("DEBUG", "1")
    main()
