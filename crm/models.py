"""The bundled host CRM: tenants ("locations"), contacts and what happens to them.

A host project may bring its own contact model instead (see ``STUDIO_CONTACT_MODEL``);
the engine only ever sees contacts through a plain-dict snapshot.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Upper

from .phones import PhoneField
from .tenancy import Link, TenantLinkedModel

# ``db_index=False`` on a ForeignKey: its column leads one of the model's composite indexes or
# unique rules, which serves lookups by it as well; an index of its own would only cost every
# INSERT a write (tests/test_redundant_indexes.py finds any that come back).

CONTACT_LINK = (Link("contact"),)


class Tenant(models.Model):
    """A business location; every row in the studio belongs to exactly one."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    timezone = models.CharField(max_length=64, default="UTC")
    phone_region = models.CharField(
        max_length=2,
        blank=True,
        default="",
        help_text="ISO country code (e.g. US) for phone numbers written without +country",
    )
    # Optional monthly AI spend cap in USD; None means no cap.
    ai_monthly_cost_cap = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TenantMembership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        EDITOR = "editor", "Editor"
        VIEWER = "viewer", "Viewer"

    tenant = models.ForeignKey(
        Tenant, db_index=False, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tenant_memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.EDITOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_tenant_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant} ({self.role})"


class Tag(models.Model):
    tenant = models.ForeignKey(
        Tenant, db_index=False, on_delete=models.CASCADE, related_name="tags"
    )
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="tag_unique_tenant_name")
        ]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    class Stage(models.TextChoices):
        SUBSCRIBER = "subscriber", "Subscriber"
        LEAD = "lead", "Lead"
        QUALIFIED = "qualified", "Qualified lead"
        OPPORTUNITY = "opportunity", "Opportunity"
        CUSTOMER = "customer", "Customer"
        CHURNED = "churned", "Churned"

    tenant = models.ForeignKey(
        Tenant, db_index=False, on_delete=models.CASCADE, related_name="contacts"
    )
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    phone = PhoneField(max_length=32, blank=True, help_text="Stored as E.164, e.g. +4930123456")
    tags = models.ManyToManyField(Tag, through="ContactTag", related_name="contacts", blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.LEAD)
    source = models.CharField(max_length=100, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    email_opt_out = models.BooleanField(default=False)
    sms_opt_out = models.BooleanField(default=False)
    whatsapp_opt_out = models.BooleanField(default=False)
    voice_opt_out = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # A host CRM may point STUDIO_CONTACT_MODEL at its own model, as with AUTH_USER_MODEL.
        swappable = "STUDIO_CONTACT_MODEL"
        ordering = ["-created_at"]
        indexes = [
            # Every email lookup is case-insensitive (``email__iexact`` is UPPER(email) = UPPER(%s)
            # on PostgreSQL): a plain (tenant, email) index cannot serve it.
            models.Index(models.F("tenant"), Upper("email"), name="contact_tenant_email_ci"),
            models.Index(fields=["tenant", "phone"], name="contact_tenant_phone"),
            models.Index(fields=["tenant", "stage"], name="contact_tenant_stage"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or self.phone or f"Contact {self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def is_opted_out(self, channel: str) -> bool:
        return bool(getattr(self, f"{channel}_opt_out", False))


class ContactTag(TenantLinkedModel):
    tenant_links = (Link("tag", source="contact__tenant_id"),)

    contact = models.ForeignKey(Contact, db_index=False, on_delete=models.CASCADE)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "tag"], name="contacttag_unique")]

    def __str__(self) -> str:
        return f"{self.contact} #{self.tag}"


class Channel(models.TextChoices):
    SMS = "sms", "SMS"
    WHATSAPP = "whatsapp", "WhatsApp"
    EMAIL = "email", "Email"
    WEBCHAT = "webchat", "Web chat"
    VOICE = "voice", "Voice"


class Direction(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"


class Message(TenantLinkedModel):
    tenant_links = CONTACT_LINK

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="messages")
    contact = models.ForeignKey(
        Contact, db_index=False, on_delete=models.CASCADE, related_name="messages"
    )
    channel = models.CharField(max_length=20, choices=Channel.choices)
    direction = models.CharField(max_length=10, choices=Direction.choices)
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True)
    from_address = models.CharField(max_length=255, blank=True)
    to_address = models.CharField(max_length=255, blank=True)
    intent = models.CharField(max_length=100, blank=True)
    intent_confidence = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    external_id = models.CharField(max_length=255, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["contact", "created_at"], name="message_contact_created")]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.get_channel_display()} to/from {self.contact}"


class Call(TenantLinkedModel):
    tenant_links = CONTACT_LINK

    class Status(models.TextChoices):
        RINGING = "ringing", "Ringing"
        COMPLETED = "completed", "Completed"
        MISSED = "missed", "Missed"
        VOICEMAIL = "voicemail", "Voicemail"
        FAILED = "failed", "Failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="calls")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="calls")
    direction = models.CharField(max_length=10, choices=Direction.choices)
    status = models.CharField(max_length=20, choices=Status.choices)
    duration_seconds = models.PositiveIntegerField(default=0)
    from_number = PhoneField(max_length=32, blank=True)
    to_number = PhoneField(max_length=32, blank=True)
    transcript = models.TextField(blank=True)
    external_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} call ({self.status}) {self.contact}"


class Booking(TenantLinkedModel):
    tenant_links = CONTACT_LINK

    class Status(models.TextChoices):
        CONFIRMED = "confirmed", "Confirmed"
        CANCELLED = "cancelled", "Cancelled"
        COMPLETED = "completed", "Completed"
        NO_SHOW = "no_show", "No-show"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="bookings")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="bookings")
    title = models.CharField(max_length=200)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CONFIRMED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        return f"{self.title} at {self.starts_at:%Y-%m-%d %H:%M}"


class Task(TenantLinkedModel):
    """A follow-up for staff, due at a time (what ``schedule_follow_up`` creates).

    ``assigned_to`` must be a member of the task's tenant (checked here and by a trigger).
    """

    tenant_links = CONTACT_LINK

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="tasks")
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="tasks", null=True, blank=True
    )
    title = models.CharField(max_length=255)
    notes = models.TextField(blank=True)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at"]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        super().clean()
        if self.assigned_to_id is None or self.tenant_id is None:
            return
        member = TenantMembership.objects.filter(
            tenant_id=self.tenant_id, user_id=self.assigned_to_id
        )
        if not member.exists():
            raise ValidationError(
                {"assigned_to": f"user {self.assigned_to_id} is not a member of this tenant"}
            )


class EmailTemplate(models.Model):
    """A tenant asset addressed by slug: ``{{templates.<slug>}}``."""

    tenant = models.ForeignKey(
        Tenant, db_index=False, on_delete=models.CASCADE, related_name="email_templates"
    )
    slug = models.SlugField(max_length=100)
    name = models.CharField(max_length=200)
    subject = models.CharField(max_length=255, help_text="A template: {{contact.first_name}} works")
    body_text = models.TextField(help_text="Plain-text part (a template)")
    body_html = models.TextField(blank=True, help_text="Optional HTML part (a template)")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "slug"], name="emailtemplate_unique_slug")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


class VoicemailDrop(models.Model):
    """A pre-recorded voicemail, addressed by slug: ``{{voicemails.<slug>}}``."""

    tenant = models.ForeignKey(
        Tenant, db_index=False, on_delete=models.CASCADE, related_name="voicemail_drops"
    )
    slug = models.SlugField(max_length=100)
    name = models.CharField(max_length=200)
    audio_url = models.URLField(blank=True)
    transcript = models.TextField(blank=True, help_text="Spoken by text-to-speech when no audio")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "slug"], name="voicemaildrop_unique_slug")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"
