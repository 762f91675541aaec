"""Inbound webhooks: a signed JSON POST to a workflow's URL enrolls the contact it names.

The sender signs ``f"{timestamp}.{raw_body}"`` with HMAC-SHA256 and the workflow's webhook
secret, and sends three headers: ``X-Studio-Timestamp`` (unix seconds), ``X-Studio-Signature``
(``sha256=<hex>``) and ``X-Studio-Delivery`` (a unique id; a second POST with it is a replay).
The signature itself is remembered too: a captured request re-sent inside the timestamp window
under a new delivery id carries the same signature and is refused as a replay.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F
from django.db.models.expressions import RawSQL
from django.utils import timezone

from crm.phones import PhoneNumberInvalid, tenant_e164
from engine.definition.bounded_json import JsonLimitError, JsonLimits, loads_bounded
from engine.effects.contacts import contact_model
from engine.effects.prepared import compiled_sql, first_row
from engine.models import WebhookDelivery
from engine.runtime import queue
from engine.runtime.rows import Claim, insert_instance, update_statement
from engine.triggers.schedule import published_trigger
from workflows.models import Workflow

ENROLL = queue.ENROLL
TIMESTAMP_HEADER = "X-Studio-Timestamp"
SIGNATURE_HEADER = "X-Studio-Signature"
DELIVERY_HEADER = "X-Studio-Delivery"
# Unix seconds in ASCII digits only ('²'.isdigit() is true; 5,000 digits is not a time).
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"(?:sha256=)?([0-9a-fA-F]{64})")
BODY_LIMITS = JsonLimits(max_depth=32, max_keys=5_000)


# The REST API's error codes (api/errors.py) for the statuses a webhook answers with.
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "no_contact",
}


class WebhookRejected(Exception):
    """A delivery refused with an HTTP status and a message naming the problem."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message

    def body(self) -> dict[str, Any]:
        """The answer's JSON: the REST API's shape (``code``, ``message``, ``details``) and,
        for senders written against the first version of this endpoint, ``error`` (the same
        message)."""
        code = _CODES.get(self.status, "bad_request")
        return {"code": code, "message": self.message, "details": [], "error": self.message}


@dataclass(frozen=True)
class WebhookAccepted:
    workflow_id: int
    contact_id: Any
    delivery_id: str
    created_contact: bool


def max_bytes() -> int:
    return int(getattr(settings, "STUDIO_WEBHOOK_MAX_BYTES", 256 * 1024))


def sign(*, secret: str, timestamp: str | int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    message = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str:
    return (headers.get(name) or "").strip()


def tolerance_seconds() -> int:
    """How far (seconds) a signed timestamp may be from now; also the replay memory's span."""
    return int(getattr(settings, "STUDIO_WEBHOOK_TOLERANCE_SECONDS", 300))


def _verify(workflow: Workflow, body: bytes, headers: Mapping[str, str]) -> str:
    """Check timestamp and signature; returns the signature's hex digest (what was signed)."""
    timestamp, signature = _header(headers, TIMESTAMP_HEADER), _header(headers, SIGNATURE_HEADER)
    if not timestamp or not signature:
        raise WebhookRejected(401, f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise WebhookRejected(
            401, f"{TIMESTAMP_HEADER} must be unix seconds (ASCII digits), got '{timestamp[:20]}'"
        )
    tolerance = tolerance_seconds()
    if abs(time.time() - int(timestamp)) > tolerance:
        raise WebhookRejected(401, f"stale timestamp: more than {tolerance} s from now")
    given = _SIGNATURE.fullmatch(signature)
    expected = sign(secret=workflow.webhook_secret, timestamp=timestamp, body=body)
    if given is None or not hmac.compare_digest(expected, f"sha256={given.group(1).lower()}"):
        raise WebhookRejected(
            401, "bad signature: HMAC-SHA256 of '<timestamp>.<body>' does not match"
        )
    return expected.removeprefix("sha256=")


def _json_body(body: bytes, content_type: str) -> dict[str, Any]:
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise WebhookRejected(
            415, f"Content-Type must be application/json, got '{content_type[:50]}'"
        )
    try:
        data = loads_bounded(body.decode("utf-8"), BODY_LIMITS)
    except UnicodeDecodeError:
        raise WebhookRejected(400, "body is not UTF-8 text") from None
    except JsonLimitError as exc:
        where = f" (line {exc.line})" if exc.line else ""
        raise WebhookRejected(400, f"body: {exc.message}{where}") from None
    if not isinstance(data, dict):
        raise WebhookRejected(400, "body must be a JSON object")
    return data


def _lookup(body: dict[str, Any], key: str) -> str:
    nested = body.get("contact") if isinstance(body.get("contact"), dict) else {}
    value = body.get(key) or nested.get(key) or ""
    return str(value).strip() if isinstance(value, str | int) else ""


# Where the values go in the prepared queries below (engine.effects.prepared).
PROBE_ID, PROBE_TEXT = -918_273_646, "\x00probe\x00"
# What a request reads of its workflow; the trigger comes from the flow cache by version id.
REQUEST_FIELDS = (
    "id", "tenant", "name", "status", "webhook_token", "webhook_secret", "published_version",
)  # fmt: skip


def _match(
    workflow: Workflow, body: dict[str, Any], config: dict[str, Any]
) -> tuple[str, str, dict[str, str]]:
    """``(match_by, value, fields)``: what the body names the contact by (the value as it is
    stored: a phone in E.164) and its contact fields; WebhookRejected(400) when it names
    none or gives a phone that is not one."""
    match_by = config.get("match_by") or "email"
    value = _lookup(body, match_by)
    if not value:
        raise WebhookRejected(
            400, f"body has no '{match_by}' (or contact.{match_by}) to find the contact by"
        )
    fields = {key: _lookup(body, key) for key in ("email", "phone", "first_name", "last_name")}
    try:
        # One form for lookup and storage: "+1 (555) 010-0199" finds "+15550100199".
        fields["phone"] = tenant_e164(fields["phone"], tenant_id=workflow.tenant_id)
    except PhoneNumberInvalid as exc:
        raise WebhookRejected(400, f"body {exc}") from None
    return match_by, fields["phone"] if match_by == "phone" else value, fields


def _matching(match_by: str):
    """``build(tenant_id, value)`` of the QuerySet of contacts a webhook matches, first by id
    (email case-insensitively, through its functional index; phone exactly)."""
    lookup = "email__iexact" if match_by == "email" else "phone"
    # Two filter() calls keep the parameters in this order (one call sorts its keywords).
    return lambda tenant_id, match: (
        contact_model().objects.filter(tenant_id=tenant_id).filter(**{lookup: match}).order_by("pk")
    )


def _contact_for(
    workflow: Workflow, config: dict[str, Any], match_by: str, value: str, fields: dict[str, str]
) -> tuple[Any, bool]:
    """The contact the body names, created when the workflow may create contacts (True);
    WebhookRejected(422) when there is none and it may not."""
    model = contact_model()
    contact = first_row(
        key=("webhook: contact by", match_by, model._meta.label),
        build=lambda tenant_id, match: _matching(match_by)(tenant_id, match)[:1],
        probes=[PROBE_ID, PROBE_TEXT],
        values=[workflow.tenant_id, value],
    )
    if contact is not None:
        return contact, False
    if not config.get("create"):
        raise WebhookRejected(422, _no_contact(match_by, value))
    contact = model.objects.create(
        tenant_id=workflow.tenant_id, source="webhook", **{k: v for k, v in fields.items() if v}
    )
    return contact, True


def _no_contact(match_by: str, value: str) -> str:
    return f"no contact with {match_by} '{value}' and the workflow does not create contacts"


def _contact_id_sql(match_by: str) -> str | None:
    """The SELECT of the matching contact's id (as ``contact``; parameters: tenant id, value),
    compiled once per process; None where it cannot be prepared (not PostgreSQL)."""
    if connection.vendor != "postgresql":
        return None
    model = contact_model()
    found = compiled_sql(
        ("webhook: contact id by", match_by, model._meta.label),
        lambda tenant_id, match: _matching(match_by)(tenant_id, match).values(contact=F("pk"))[:1],
        [PROBE_ID, PROBE_TEXT],
    )
    return None if found is None else found[0]


def _record_for_match(
    delivery: WebhookDelivery,
    lookup: str,
    tenant_id: int,
    value: str,
    *,
    unchanged: Workflow | None = None,
) -> Any:
    """Find the contact and record the delivery with it in one statement (PostgreSQL): ``WITH
    source AS (lookup: the contact's id) INSERT … SELECT … FROM source`` — the delivery's
    ``contact_id`` and its trigger's ``contact_id`` filled in from the row found. Returns the
    contact's id, or None when no contact matched (nothing recorded). IntegrityError for a
    replay, as a plain INSERT.

    ``unchanged``: a workflow row remembered from an earlier request (``_REMEMBERED``); the
    statement records nothing (None) unless that row is still as it was then (``ROW_VERSION``)."""
    context = delivery.trigger
    # The trigger's JSON as the field adapts it, with the contact's id set by the database.
    as_json = WebhookDelivery._meta.get_field("trigger").get_db_prep_save(context, connection)
    computed = {
        "contact_id": ("SELECT source.contact::text", []),
        "trigger": ("SELECT jsonb_set(%s, '{contact_id}', to_jsonb(source.contact))", [as_json]),
    }
    source = (lookup, [tenant_id, value])
    if unchanged is not None:
        source = (
            # Both parts are compiled from models' metadata; the values are parameters.
            f"SELECT * FROM ({lookup}) AS found WHERE {_row_unchanged_sql()}",  # noqa: S608
            [tenant_id, value, unchanged.pk, unchanged.row_version],
        )
    if insert_instance(delivery, computed=computed, source=source) is None:
        return None
    contact_id = contact_model()._meta.pk.to_python(delivery.contact_id)
    context["contact_id"] = contact_id  # what the database wrote into the trigger's JSON
    delivery.trigger = context
    return contact_id


@cache
def _row_unchanged_sql() -> str:
    """``EXISTS (…)``: the workflow row (id, ``ROW_VERSION`` as read: two parameters) has not
    been updated since it was read. Every UPDATE in PostgreSQL writes a new version of the
    row: a new ``ctid`` (its place, even within one transaction) and, from another
    transaction, a new ``xmin``; the pair never comes back for the same row. So any change —
    a paused workflow, a new secret, a new published version — fails it."""
    meta = Workflow._meta
    quote = connection.ops.quote_name
    # Identifiers come from the model's metadata; the values are parameters.
    return (
        f"EXISTS (SELECT 1 FROM {quote(meta.db_table)} "  # noqa: S608
        f"WHERE {quote(meta.pk.column)} = %s AND {ROW_VERSION} = %s)"
    )


# Which version of a row this is (PostgreSQL system columns), as text.
ROW_VERSION = "(xmin::text || ':' || ctid::text)"


class _Changed(Exception):
    """A remembered workflow row no longer holds: decide again from the row itself."""


# What webhook requests read of their workflow, by token, in this process (PostgreSQL): a
# request accepts on it only if its row is unchanged (``_record_for_match``), and anything
# else than an acceptance is decided again from the row. Bounded: cleared when full.
_REMEMBERED: dict[str, Workflow] = {}
_REMEMBER_AT_MOST = 1024


def _workflow_by_token(token: str) -> Workflow:
    """The workflow of ``token`` read from its row (remembered for the next requests on
    PostgreSQL, with ``ROW_VERSION`` as ``row_version``); WebhookRejected(404) when none."""
    postgres = connection.vendor == "postgresql"

    def build(value: str):
        rows = Workflow.objects.only(*REQUEST_FIELDS).filter(webhook_token=value)
        version = RawSQL(ROW_VERSION, [])  # noqa: S611 - a constant: system columns only
        return rows.annotate(row_version=version) if postgres else rows

    workflow = first_row(
        key=("webhook: workflow by token", postgres), build=build, probes=[PROBE_TEXT],
        values=[token],
    )  # fmt: skip
    if workflow is None or not token:
        raise WebhookRejected(404, "unknown webhook token")
    if postgres:
        if len(_REMEMBERED) >= _REMEMBER_AT_MOST:
            _REMEMBERED.clear()
        _REMEMBERED[token] = workflow
    return workflow


def webhook_receive(
    *, token: str, body: bytes, headers: Mapping[str, str], content_type: str
) -> WebhookAccepted:
    """Check a delivery and queue its contact's enrollment; WebhookRejected says why not.

    A token seen before in this process skips reading its workflow: the delivery is recorded
    only if the row is still as it was read (one statement). Any other outcome — a rejection,
    a changed row — is decided again from the row, so a paused workflow or a new secret takes
    effect at once.
    """
    remembered = _REMEMBERED.get(token) if token else None
    if remembered is not None:
        try:
            return _receive(remembered, body, headers, content_type, remembered=True)
        except (WebhookRejected, _Changed, ObjectDoesNotExist):  # its version deleted, say
            _REMEMBERED.pop(token, None)
    return _receive(_workflow_by_token(token), body, headers, content_type, remembered=False)


def _receive(
    workflow: Workflow,
    body: bytes,
    headers: Mapping[str, str],
    content_type: str,
    *,
    remembered: bool,
) -> WebhookAccepted:
    if len(body) > max_bytes():
        raise WebhookRejected(413, f"body is larger than {max_bytes()} bytes")
    signed = _verify(workflow, body, headers)
    data = _json_body(body, content_type)
    trigger = published_trigger(workflow)
    if workflow.status != Workflow.Status.ACTIVE or trigger.get("type") != "webhook":
        raise WebhookRejected(409, f"workflow '{workflow.name}' is not an active webhook workflow")
    delivery_id = _header(headers, DELIVERY_HEADER)
    if not delivery_id or len(delivery_id) > 200:
        raise WebhookRejected(400, f"missing (or over 200 characters) {DELIVERY_HEADER} header")
    config = trigger.get("config") or {}
    match_by, value, fields = _match(workflow, data, config)
    # Find the contact (an index lookup), record the delivery with it (a replay breaks the
    # unique key), then enqueue the enrollment once that is committed. The delivery row keeps
    # the task's trigger data and stays "owed" (no outcome) until the task enrolls or decides
    # not to, so a lost message is re-sent by the sweep. On PostgreSQL the lookup and the
    # INSERT are one statement (``_record_for_match``). A transaction (two more round trips)
    # only when the contact may be created: a replay must not keep it (and a savepoint when
    # a caller's transaction is open: a replay must not break it).
    create = bool(config.get("create"))
    atomic = create or connection.in_atomic_block
    replayed = False
    try:
        with transaction.atomic() if atomic else nullcontext():
            now = timezone.now()
            context = {
                "type": "webhook",
                "body": data,
                "delivery_id": delivery_id,
                "received_at": now.isoformat(),
                "contact_id": None,
            }
            delivery = WebhookDelivery(
                workflow=workflow,
                delivery_id=delivery_id,
                signature=signed,
                trigger=context,
                sent_at=now,
            )
            try:
                lookup = None if create else _contact_id_sql(match_by)
                if lookup is None and remembered:
                    raise _Changed  # only a lookup can check the row: read it first
                if lookup is None:
                    contact, created = _contact_for(workflow, config, match_by, value, fields)
                    context["contact_id"], delivery.contact_id = contact.pk, str(contact.pk)
                    contact_id = contact.pk
                    insert_instance(delivery)  # its statement built once per process
                else:
                    created = False
                    contact_id = _record_for_match(
                        delivery, lookup, workflow.tenant_id, value,
                        unchanged=workflow if remembered else None,
                    )  # fmt: skip
                    if contact_id is None and remembered:
                        raise _Changed  # or no such contact: the row decides which
                    if contact_id is None:
                        raise WebhookRejected(422, _no_contact(match_by, value))
            except IntegrityError:
                replayed = True
                raise
            # What the task needs of the workflow, as read here: it need not read it again.
            seen = {
                "tenant_id": workflow.tenant_id,
                "version_id": workflow.published_version_id,
                "name": workflow.name,
            }
            args = queue.delivery_enroll_args(workflow.pk, delivery.pk, context, seen=seen)
            # Robust: the delivery is committed and owed, so a broker that fails here is
            # logged and the sweep sends the task later; the sender still gets its 202.
            # (Outside a transaction on_commit calls it at once: the INSERT has committed.)
            transaction.on_commit(lambda: queue.enrollments.add(args), robust=True)
    except IntegrityError:
        if not replayed:
            raise
        raise WebhookRejected(409, _replay_message(workflow, delivery_id)) from None
    return WebhookAccepted(workflow.pk, contact_id, delivery_id, created)


def delivery_claim(delivery_pk: int, *, still: tuple[int, int] | None = None) -> Claim:
    """A claim for ``enrollment_create``: marks the delivery enrolled inside the enrollment's
    transaction — on PostgreSQL inside the enrollment's INSERT itself (``rows.Claim``). The
    UPDATE takes the row lock, so a second run of the same message waits for the first to
    commit and then finds the outcome set: it enrolls nobody.

    ``still`` (workflow id, published version id): claim only while that workflow is active
    on that version — the task enrolls on what the request saw without reading the row
    (``dispatch.contact_enroll``); when the row has changed, nothing is claimed or inserted.
    """
    settled = WebhookDelivery(
        pk=delivery_pk, outcome=WebhookDelivery.Outcome.ENROLLED, handled_at=timezone.now()
    )
    owed = {"outcome": ""}
    # filter(pk=…, outcome="").update(…), its statement built once per process.
    sql, params = update_statement(settled, ("outcome", "handled_at"), only_if=owed)
    if still is not None:
        sql, params = f"{sql} AND {_still_sql()}", [*params, *still, Workflow.Status.ACTIVE]

    def run() -> bool:
        rows = WebhookDelivery.objects.filter(pk=delivery_pk, outcome="")
        if still is not None:
            rows = rows.filter(Exists(_still(*still)))
        return rows.update(outcome=settled.outcome, handled_at=settled.handled_at) == 1

    return Claim(statement=(f"{sql} RETURNING 1", params), run=run)


def _still(workflow_id: int, version_id: int):
    return Workflow.objects.filter(
        pk=workflow_id, published_version_id=version_id, status=Workflow.Status.ACTIVE
    )


@cache
def _still_sql() -> str:
    """``EXISTS (…)``: the workflow (id, published version id, status: three parameters) is
    still as the request saw it; text built once per process from the model's metadata."""
    quote, meta = connection.ops.quote_name, Workflow._meta
    columns = [quote(meta.get_field(name).column) for name in ("id", "published_version", "status")]
    # Identifiers come from the model's metadata; the values are parameters.
    return (
        f"EXISTS (SELECT 1 FROM {quote(meta.db_table)} WHERE "  # noqa: S608
        + " AND ".join(f"{column} = %s" for column in columns)
        + ")"
    )


def delivery_settle(delivery_pk: int, outcome: str) -> bool:
    """Record a decision not to enroll (``WebhookDelivery.Outcome``) so the sweep stops
    re-sending; False when the delivery was settled already (its first outcome stays)."""
    owed = WebhookDelivery.objects.filter(pk=delivery_pk, outcome="")
    return owed.update(outcome=outcome, handled_at=timezone.now()) == 1


def _replay_message(workflow: Workflow, delivery_id: str) -> str:
    if WebhookDelivery.objects.filter(workflow=workflow, delivery_id=delivery_id).exists():
        return f"delivery '{delivery_id}' was already received"
    return "replayed request: this signed timestamp and body were already received"


def deliveries_purge(*, older_than_seconds: int = 86_400) -> int:
    """Forget old delivery ids and signatures; a replay that old fails the timestamp check.

    Never forgets within twice the tolerance (a timestamp may be up to ``tolerance`` ahead of
    the clock, so its signature stays usable until ``received + 2 × tolerance``), and never
    forgets a delivery whose enrollment is still owed (no outcome): the sweep needs it.
    """
    keep = max(older_than_seconds, 2 * tolerance_seconds())
    cutoff = timezone.now() - timedelta(seconds=keep)
    old = WebhookDelivery.objects.filter(received_at__lt=cutoff).exclude(outcome="")
    return old.delete()[0]
