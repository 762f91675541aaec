"""Live CRM writes of workflow steps: tags, contact fields, leads, tasks and generic records.

Each write runs once per step execution (``perform_once`` with the step's idempotency key), in
the executor's transaction, so a redelivered task or a retried step never creates twice.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models.signals import post_save
from django.utils import timezone

from crm.models import ContactTag, Tag, Task
from crm.phones import PhoneNumberInvalid, tenant_e164
from engine.effects.contacts import contact_model
from engine.effects.contract import StepContext, StepFailed
from engine.effects.idempotency import step_once
from engine.effects.prepared import Beside
from engine.effects.record_registry import (
    RecordRefused,
    clean_field_value,
    clean_record_fields,
    record_type,
)

CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "stage",
    "source",
    "timezone",
    "email_opt_out",
    "sms_opt_out",
    "whatsapp_opt_out",
    "voice_opt_out",
)
CUSTOM = "custom_fields"


def clean_contact_fields(
    fields: dict[str, Any], *, where: str, tenant_id: Any = None
) -> dict[str, Any]:
    """Validate contact updates: known fields, ``custom_fields.<name>`` or a custom_fields dict.

    Returns a flat mapping (``"custom_fields.goal": value``); raises StepFailed naming the field.
    ``phone`` becomes E.164, read in ``tenant_id``'s default region (crm.phones).
    """
    model = contact_model()
    cleaned: dict[str, Any] = {}
    for name, value in (fields or {}).items():
        if name == CUSTOM and isinstance(value, dict):
            for key, item in value.items():
                path = f"{CUSTOM}.{key}"
                cleaned[path] = item
                custom_path(path, where=where)
        elif name.startswith(f"{CUSTOM}."):
            custom_path(name, where=where)
            cleaned[name] = value
        elif name == "phone":
            try:
                cleaned[name] = tenant_e164(value, tenant_id=tenant_id, where=f"{where}.phone")
            except PhoneNumberInvalid as exc:
                raise StepFailed(str(exc)) from None
        elif name in CONTACT_FIELDS:
            try:
                cleaned[name] = clean_field_value(model._meta.get_field(name), value)
            except ValidationError as exc:
                raise StepFailed(f"{where}.{name}: {' '.join(exc.messages)}") from None
        else:
            raise StepFailed(
                f"{where}: '{name}' is not a contact field a workflow may set "
                f"(allowed: {', '.join(CONTACT_FIELDS)}, custom_fields.<name>)"
            )
    return cleaned


def link_tag(contact_id: Any, tag: Tag) -> bool:
    """Link ``tag`` to the contact in one statement (``INSERT … ON CONFLICT DO NOTHING``, no
    savepoint); True when the link is new. A new link is announced as a save would be:
    ``post_save`` is sent by hand, so the CRM's receivers fire ``tag_added`` as usual."""
    meta, quote = ContactTag._meta, connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(f).column) for f in ("contact", "tag", "created_at"))
    # Identifiers come from the model's metadata, values are parameters.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES (%s, %s, %s) "  # noqa: S608
        f"ON CONFLICT DO NOTHING RETURNING {quote(meta.pk.column)}"
    )
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(sql, [contact_id, tag.pk, now])
        row = cursor.fetchone()
    if row is None:
        return False
    _announce_link(row[0], contact_id, tag, now)
    return True


def link_tag_named(tenant_id: int, contact_id: Any, name: str) -> bool | None:
    """Link the tenant's tag called ``name`` to the contact in one statement on PostgreSQL (the
    tag found and the link inserted by one ``WITH … INSERT … ON CONFLICT DO NOTHING``).

    True when the link is new (announced by ``post_save`` as in :func:`link_tag`), False when
    the contact had the tag, None when the tenant has no such tag (the caller creates it).
    Elsewhere (SQLite has no INSERT in WITH) the tag is looked up first, then linked.
    """
    if connection.vendor != "postgresql":
        tag = Tag.objects.filter(tenant_id=tenant_id, name=name).first()
        return None if tag is None else link_tag(contact_id, tag)
    sql = link_named_statement()
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(sql, [tenant_id, name, contact_id, now])
        row = cursor.fetchone()
    if row is None:
        return None
    if row[1] is None:
        return False
    _announce_link(row[1], contact_id, Tag(pk=row[0], tenant_id=tenant_id, name=name), now)
    return True


@cache
def link_named_statement() -> str:
    """The PostgreSQL statement of :func:`link_tag_named` (parameters: tenant id, tag name,
    contact id, link time), built once per process from the models' metadata."""
    quote = connection.ops.quote_name
    tags, links = Tag._meta, ContactTag._meta
    columns = ", ".join(quote(links.get_field(f).column) for f in ("contact", "tag", "created_at"))
    tag_id, link_id = quote(tags.pk.column), quote(links.pk.column)
    # Identifiers come from the models' metadata, values are parameters.
    return (
        f"WITH found AS (SELECT {tag_id} AS id FROM {quote(tags.db_table)} "  # noqa: S608
        f"WHERE {quote(tags.get_field('tenant').column)} = %s "
        f"AND {quote(tags.get_field('name').column)} = %s), "
        f"linked AS (INSERT INTO {quote(links.db_table)} ({columns}) "
        f"SELECT %s, found.id, %s FROM found ON CONFLICT DO NOTHING RETURNING {link_id}) "
        f"SELECT found.id, (SELECT linked.{link_id} FROM linked) FROM found"
    )


def link_tags_named(
    tenant_id: int, contact_id: Any, names: list[str]
) -> dict[str, tuple[int, int | None]]:
    """PostgreSQL: link the tenant's tags called ``names`` to the contact in one statement.

    Returns ``{name: (tag id, new link id or None when the contact had it)}`` for the names
    the tenant has a tag for (a missing one is absent: the caller creates it). New links are
    not announced here (the caller does, in its steps' order).
    """
    now = timezone.now()
    wanted = list(dict.fromkeys(names))  # each name once, as the statement's VALUES list
    with connection.cursor() as cursor:
        cursor.execute(links_named_statement(len(wanted)), [tenant_id, *wanted, contact_id, now])
        rows = cursor.fetchall()
    return {name: (tag_id, link_id) for name, tag_id, link_id in rows}


@cache
def links_named_statement(count: int) -> str:
    """The statement of :func:`link_tags_named` for ``count`` distinct names (parameters:
    tenant id, the names, contact id, link time), built once per process and count from the
    models' metadata (:func:`links_named_parts`)."""
    ctes, select = links_named_parts(count)
    return f"WITH {', '.join(ctes)} {select}"


@cache
def links_named_parts(count: int) -> tuple[tuple[str, ...], str]:
    """``(ctes, select)`` of :func:`links_named_statement`: its ``found`` and ``linked``
    clauses, which may also ride in another statement's ``WITH`` (``prepared.Beside``), and
    the SELECT of ``(name, tag id, new link id or None)`` over them.

    The names are a ``VALUES`` list of ``count`` rows, not one array parameter: with
    ``unnest(array)`` PostgreSQL cannot know the row count, prices its generic plan higher
    than each custom one and re-plans the statement on every run (~0.1 ms, ``bench/
    README.md``); with a fixed list the prepared statement keeps one generic plan.
    """
    if count < 1:
        raise ValueError("link_tags_named needs at least one tag name")
    quote = connection.ops.quote_name
    tags, links = Tag._meta, ContactTag._meta
    columns = ", ".join(quote(links.get_field(f).column) for f in ("contact", "tag", "created_at"))
    tag_id, link_id = quote(tags.pk.column), quote(links.pk.column)
    link_tag = quote(links.get_field("tag").column)
    name = quote(tags.get_field("name").column)
    # Identifiers come from the models' metadata, values are parameters.
    # Each name's tag by a scalar subquery: the unique (tenant, name) index with both keys,
    # whatever the planner knows (with ``name = ANY(…)`` it read the tenant's every tag).
    found = (
        f"found AS (SELECT wanted.name, (SELECT {tag_id} "  # noqa: S608
        f"FROM {quote(tags.db_table)} WHERE {quote(tags.get_field('tenant').column)} = %s "
        f"AND {name} = wanted.name) AS id "
        f"FROM (VALUES {', '.join(['(%s::text)'] * count)}) AS wanted(name))"
    )
    linked = (
        f"linked AS (INSERT INTO {quote(links.db_table)} ({columns}) "  # noqa: S608
        f"SELECT %s, found.id, %s FROM found WHERE found.id IS NOT NULL ON CONFLICT DO NOTHING "
        f"RETURNING {link_id} AS id, {link_tag} AS tag)"
    )
    select = (
        "SELECT found.name, found.id, linked.id FROM found "
        "LEFT JOIN linked ON linked.tag = found.id WHERE found.id IS NOT NULL"
    )
    return (found, linked), select


def _announce_link(link_id: int, contact_id: Any, tag: Tag, now: datetime) -> None:
    """Send ``post_save`` for a link inserted by SQL, so the CRM's receivers fire
    ``tag_added`` as for a saved ContactTag."""
    link = ContactTag(pk=link_id, contact_id=contact_id, tag=tag, created_at=now)
    link._state.adding = False
    post_save.send(sender=ContactTag, instance=link, created=True, update_fields=None, raw=False,
                   using=connection.alias)  # fmt: skip


_SEGMENT = re.compile(r"[\w-]+")


def custom_path(name: str, *, where: str) -> list[str]:
    """``custom_fields.company.size`` → ``["company", "size"]``: dots always nest.

    The one rule for custom field paths, on write as on read (conditions and templates walk
    the same nesting). Raises StepFailed for an empty or odd segment (``a..b``, ``a.b c``).
    """
    bits = name.split(".")[1:]
    if not bits or not all(_SEGMENT.fullmatch(bit) for bit in bits):
        raise StepFailed(
            f"{where}: '{name}' is not a custom field path (letters, digits, _ and - between "
            "dots; each dot is one level of nesting)"
        )
    return bits


def set_custom(custom: dict[str, Any], name: str, value: Any, *, where: str) -> None:
    """Set ``custom_fields.<a>.<b>`` in ``custom`` as nested keys, making levels as needed.

    Raises StepFailed when a level on the way holds a value that is not a mapping.
    """
    *parents, leaf = custom_path(name, where=where)
    current = custom
    for depth, bit in enumerate(parents, start=1):
        child = current.setdefault(bit, {})
        if not isinstance(child, dict):
            held = ".".join([CUSTOM, *parents[:depth]])
            raise StepFailed(
                f"{where}: cannot set '{name}': {held} holds {child!r}, not a set of fields"
            )
        current = child
    current[leaf] = value


def split_name(name: str) -> tuple[str, str]:
    first, _, last = name.strip().partition(" ")
    return first[:100], last.strip()[:100]


@dataclass
class LiveCrm:
    """CRM writes of live steps, once per step execution.

    ``defer_links`` (set by the executor for one step transaction, PostgreSQL only): an
    ``add_tag`` records its link and returns its output at once, ``added`` predicted from the
    contact's snapshot; :meth:`flush_links` writes every recorded link in one statement and
    settles each output's ``added``. The executor flushes before any step that could read a
    deferred output or the contact's tags from the database; the links still deferred when
    the transaction ends ride in its closing UPDATE (:meth:`folded_links`), and an output the
    database contradicts is written again. So a run of N tag steps costs no statement of its
    own, and nothing else changes: the links, their ``tag_added`` announcements (in the
    steps' order) and the logs are as if each step had written its own.
    """

    tenant_id: int
    enrollment: Any = None
    defer_links: bool = False
    _pending: list[tuple[str, dict[str, Any]]] = dataclasses.field(default_factory=list, repr=False)

    def _once(self, ctx: StepContext, step_id: str, kind: str, action: Callable[[], dict]):
        return step_once(ctx, tenant_id=self.tenant_id, step_id=step_id, kind=kind, action=action)

    def _contact(self, contact_id: Any, *, lock: bool = False):
        rows = contact_model().objects.filter(tenant_id=self.tenant_id, pk=contact_id)
        contact = (rows.select_for_update() if lock else rows).first()
        if contact is None:
            raise StepFailed(f"contact {contact_id} does not exist in this tenant")
        return contact

    def add_tag(self, *, ctx: StepContext, step_id: str, tag: str) -> dict[str, Any]:
        """Tag the enrolled contact (creating the tag); ``added`` is False if it had it."""

        def action() -> dict[str, Any]:
            if self.defer_links:
                # Predicted from the contact's snapshot (fresh in this task: read with the
                # enrollment or carried from the steps before) and settled against the
                # database by flush_links or folded_links before anything else reads it;
                # the snapshot takes the tag either way (contact_carry), as the database will.
                had = tag in ((ctx.data.get("contact") or {}).get("tags") or ())
                output = {"tag": tag, "added": not had}
                self._pending.append((tag, output))
                return output
            return {"tag": tag, "added": self._link(ctx.contact_id, tag)}

        return self._once(ctx, step_id, "add_tag", action)

    def _link(self, contact_id: Any, tag: str) -> bool:
        # The enrolled contact is this tenant's (the enrollment is), no need to load it.
        added = link_tag_named(self.tenant_id, contact_id, tag)
        if added is None:  # a new tag: the only case that pays for get_or_create's savepoint
            row, _ = Tag.objects.get_or_create(tenant_id=self.tenant_id, name=tag)
            added = link_tag(contact_id, row)
        return added

    def flush_links(self, contact_id: Any) -> int:
        """Write the links deferred ``add_tag`` steps recorded (one statement for several)
        and settle their outputs' ``added``; announce the new ones in the steps' order.
        Returns how many steps it settled."""
        pending, self._pending = self._pending, []
        if len(pending) == 1:
            tag, output = pending[0]
            output["added"] = self._link(contact_id, tag)
        elif pending:
            found = link_tags_named(self.tenant_id, contact_id, [tag for tag, _ in pending])
            self._settle(contact_id, pending, found, timezone.now())
        return len(pending)

    def folded_links(
        self, contact_id: Any
    ) -> tuple[Beside, Callable[[list[tuple]], list[dict[str, Any]]]] | None:
        """The deferred links as writes for the step transaction's closing UPDATE to carry
        (``rows.update_beside``: one round trip for both), or None when none are deferred.

        Returns ``(beside, settle)``: call ``settle`` with the statement's rows. It settles
        each output's ``added`` (the prediction ``add_tag`` made from the snapshot, already
        written in the step logs and the context), links any tag the tenant did not have yet
        (created here), announces the new links in the steps' order, and returns the outputs
        whose ``added`` the database contradicted — for the caller to write again (rare: a
        tag added or removed by someone else since the snapshot was read).
        """
        pending, self._pending = self._pending, []
        if not pending:
            return None
        names = list(dict.fromkeys(tag for tag, _ in pending))
        now = timezone.now()
        ctes, select = links_named_parts(len(names))
        beside = Beside(ctes, [self.tenant_id, *names, contact_id, now], select)

        def settle(rows: list[tuple]) -> list[dict[str, Any]]:
            found = {name: (tag_id, link_id) for name, tag_id, link_id in rows}
            return self._settle(contact_id, pending, found, now)

        return beside, settle

    def _settle(
        self,
        contact_id: Any,
        pending: list[tuple[str, dict[str, Any]]],
        found: dict[str, tuple[int, int | None]],
        now: datetime,
    ) -> list[dict[str, Any]]:
        """Settle ``pending`` outputs from ``found`` (name → (tag id, new link id or None));
        returns the outputs whose ``added`` changed."""
        changed = []
        for tag, output in pending:
            if tag not in found:  # a new tag (created once; a repeat finds it linked)
                added = self._link(contact_id, tag)
            else:
                tag_id, link_id = found[tag]
                added = link_id is not None
                if added:
                    found[tag] = (tag_id, None)  # the same tag again in this run: had it
                    row = Tag(pk=tag_id, tenant_id=self.tenant_id, name=tag)
                    _announce_link(link_id, contact_id, row, now)
            if output["added"] != added:
                output["added"] = added
                changed.append(output)
        return changed

    def remove_tag(self, *, ctx: StepContext, step_id: str, tag: str) -> dict[str, Any]:
        """Untag the enrolled contact; ``removed`` is False if it did not have the tag."""

        def action() -> dict[str, Any]:
            link = ContactTag.objects.filter(
                contact_id=ctx.contact_id, tag__tenant_id=self.tenant_id, tag__name=tag
            ).first()
            if link is not None:
                link.delete()  # one by one, so post_delete announces tag_removed
            return {"tag": tag, "removed": link is not None}

        return self._once(ctx, step_id, "remove_tag", action)

    def _apply_contact(self, contact_id: Any, fields: dict[str, Any], where: str) -> list[str]:
        cleaned = clean_contact_fields(fields, where=where, tenant_id=self.tenant_id)
        contact = self._contact(contact_id, lock=True)
        custom = copy.deepcopy(contact.custom_fields or {})
        for name, value in cleaned.items():
            if name.startswith(f"{CUSTOM}."):
                set_custom(custom, name, value, where=where)
            else:
                setattr(contact, name, value)
        contact.custom_fields = custom
        names = [n for n in cleaned if not n.startswith(f"{CUSTOM}.")]
        contact.save(update_fields=[*names, CUSTOM, "updated_at"])
        return sorted(cleaned)

    def update_contact(self, *, ctx: StepContext, step_id: str, fields: dict) -> dict[str, Any]:
        """Set fields on the enrolled contact; returns the names that were set."""

        def action() -> dict[str, Any]:
            return {"updated": self._apply_contact(ctx.contact_id, fields, "update_contact")}

        return self._once(ctx, step_id, "update_contact", action)

    def create_task(
        self, *, ctx: StepContext, step_id: str, title: str, due_at: datetime, notes: str = ""
    ) -> dict[str, Any]:
        """A staff follow-up task for the enrolled contact, due at ``due_at``."""

        def action() -> dict[str, Any]:
            task = Task.objects.create(
                tenant_id=self.tenant_id,
                contact_id=ctx.contact_id,
                title=title[:255],
                notes=notes,
                due_at=due_at,
            )
            return {"task_id": task.pk, "title": task.title, "due_at": due_at.isoformat()}

        return self._once(ctx, step_id, "create_task", action)

    def create_lead(
        self, *, ctx: StepContext, step_id: str, name: str, email: str, phone: str, source: str
    ) -> dict[str, Any]:
        """Find a contact by email, then phone; else create one with the lead stage."""

        def action() -> dict[str, Any]:
            values = clean_contact_fields(
                {"email": email, "phone": phone, "source": source},
                where="create_lead",
                tenant_id=self.tenant_id,
            )
            rows = contact_model().objects.filter(tenant_id=self.tenant_id)
            found = (email and rows.filter(email__iexact=email).first()) or (
                values["phone"] and rows.filter(phone=values["phone"]).first()
            )
            if found:
                return {"lead_id": found.pk, "created": False}
            first, last = split_name(name)
            lead = contact_model().objects.create(
                tenant_id=self.tenant_id,
                first_name=first,
                last_name=last,
                stage="lead",
                **values,
            )
            return {"lead_id": lead.pk, "created": True}

        return self._once(ctx, step_id, "create_lead", action)

    def update_lead(
        self, *, ctx: StepContext, step_id: str, lead_id: Any, updates: dict
    ) -> dict[str, Any]:
        """Set fields on a lead of this tenant, found by id."""

        def action() -> dict[str, Any]:
            pk = _pk(lead_id, "update_lead.lead_id")
            return {"lead_id": pk, "updated": self._apply_contact(pk, updates, "update_lead")}

        return self._once(ctx, step_id, "update_lead", action)

    def create_record(
        self, *, ctx: StepContext, step_id: str, model: str, fields: dict
    ) -> dict[str, Any]:
        """A new row of a registered model in this tenant (``contact``: the enrolled one)."""

        def action() -> dict[str, Any]:
            kind, values = _registered(model, fields)
            names = {f.name for f in kind.model._meta.get_fields()}
            if "contact" in names and "contact_id" not in values:
                values["contact_id"] = ctx.contact_id
            self._check_related(kind.model, values)
            row = kind.model(tenant_id=self.tenant_id, **values)
            _full_clean(row, f"create_record {kind.label}")
            row.save()
            return {"model": kind.label, "record_id": row.pk}

        return self._once(ctx, step_id, "create_record", action)

    def update_record(
        self, *, ctx: StepContext, step_id: str, model: str, record_id: Any, fields: dict
    ) -> dict[str, Any]:
        """Change fields of a registered model's row that belongs to this tenant."""

        def action() -> dict[str, Any]:
            kind, values = _registered(model, fields)
            pk = _pk(record_id, "update_record.record_id")
            row = kind.model.objects.select_for_update().filter(tenant_id=self.tenant_id, pk=pk)
            row = row.first()
            if row is None:
                raise StepFailed(f"update_record: no {kind.label} with id {pk} in this tenant")
            self._check_related(kind.model, values)
            for attname, value in values.items():
                setattr(row, attname, value)
            _full_clean(row, f"update_record {kind.label}")
            row.save(update_fields=list(values))
            return {"model": kind.label, "record_id": row.pk, "updated": sorted(fields)}

        return self._once(ctx, step_id, "update_record", action)

    def _check_related(self, model: type[models.Model], values: dict[str, Any]) -> None:
        """A foreign key may only point at a row of the same tenant."""
        for field in model._meta.concrete_fields:
            if not isinstance(field, models.ForeignKey) or values.get(field.attname) is None:
                continue
            target = field.related_model
            rows = target.objects.filter(pk=values[field.attname])
            if any(f.name == "tenant" for f in target._meta.get_fields()):
                rows = rows.filter(tenant_id=self.tenant_id)
            if not rows.exists():
                raise StepFailed(
                    f"{model._meta.label}.{field.name}: no {target._meta.label} with id "
                    f"{values[field.attname]} in this tenant"
                )


def _registered(model: str, fields: dict) -> tuple[Any, dict[str, Any]]:
    try:
        kind = record_type(model)
        return kind, clean_record_fields(kind, fields)
    except RecordRefused as exc:
        raise StepFailed(str(exc)) from None


def _pk(value: Any, where: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise StepFailed(f"{where} rendered to {value!r}, which is not a record id") from None


def _full_clean(row: models.Model, where: str) -> None:
    try:
        row.full_clean(validate_unique=False)
    except ValidationError as exc:
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
        raise StepFailed(f"{where}: {detail}") from None
