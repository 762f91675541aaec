"""The bench scripts call the product's own functions; these keep them in step with the code
(an EXPLAIN script that runs a statement with stale arguments measures nothing)."""

from __future__ import annotations

import pytest

from bench.explain_hot import _webhook_statement
from engine.models import WebhookDelivery
from tests.cast import make_contact, make_tenant
from tests.triggers.helpers import listening


@pytest.mark.django_db
def test_explain_hot_catches_the_webhook_requests_own_statement(require_postgres):
    tenant = make_tenant()
    workflow = listening(tenant, "webhook", config={"match_by": "email"})
    make_contact(tenant, email="C500000@Bench.Example")
    sql, params = _webhook_statement(workflow, tenant.pk)
    assert sql.startswith("WITH source AS (SELECT")
    assert "INSERT INTO" in sql
    assert WebhookDelivery._meta.db_table in sql
    assert sql.count("%s") == len(params)
    assert tenant.pk in params
    assert "C500000@Bench.Example" in params
    # It ran in a transaction rolled back: nothing recorded.
    assert not WebhookDelivery.objects.filter(delivery_id="explain").exists()
