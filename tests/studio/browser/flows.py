"""The workflow Done-when test 1 builds, made directly for the tests that start from it."""

from __future__ import annotations

from crm.models import Tenant
from workflows.models import Workflow
from workflows.services import workflow_import

TAGGED_WELCOME = """
name: Tagged welcome
trigger:
  type: tag_added
  config: {tag: vip}
steps:
  - id: wait_1h
    type: wait
    config: {duration: 1h}
  - id: has_email
    type: condition
    config:
      if:
        - {field: email, operator: is_not_empty}
      then: welcome
      else: end
  - id: welcome
    type: send_email
    config:
      subject: "Welcome {{contact.first_name}}"
      body: "Hello {{contact.first_name}}, thanks for joining."
"""


def tagged_welcome(tenant: Tenant) -> Workflow:
    """The draft of test 1's workflow in ``tenant`` (not published)."""
    return workflow_import(tenant=tenant, text=TAGGED_WELCOME).workflow
