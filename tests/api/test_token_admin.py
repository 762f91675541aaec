"""API tokens in the admin: the key is shown once after saving; revoking; staff see their own."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client

from api.models import ApiToken
from api.services import api_token_create, key_hash
from tests.cast import make_staff

pytestmark = pytest.mark.django_db


def test_adding_a_token_shows_its_key_once_and_stores_its_hash(tenant):
    admin = make_staff(tenant, is_superuser=True)
    client = Client()
    client.force_login(admin)
    assert client.get("/admin/api/apitoken/add/").status_code == 200
    response = client.post(
        "/admin/api/apitoken/add/", {"user": admin.pk, "name": "builder"}, follow=True
    )
    text = " ".join(str(m) for m in get_messages(response.wsgi_request))
    key = re.search(r"(ast_\S+)", text).group(1)
    token = ApiToken.objects.get(name="builder")
    assert token.key_hash == key_hash(key)
    listing = client.get("/admin/api/apitoken/").content.decode()
    assert key not in listing
    assert token.prefix in listing


def test_revoking_from_the_admin_and_staff_seeing_only_their_own(tenant):
    staff = make_staff(tenant)
    staff.user_permissions.add(*Permission.objects.filter(codename__endswith="apitoken"))
    mine = api_token_create(user=staff, name="mine").token
    api_token_create(user=make_staff(tenant), name="theirs")
    client = Client()
    client.force_login(staff)
    listing = client.get("/admin/api/apitoken/").content.decode()
    assert "mine" in listing
    assert "theirs" not in listing
    client.post(
        "/admin/api/apitoken/",
        {"action": "revoke", "_selected_action": [mine.pk]},
    )
    mine.refresh_from_db()
    assert mine.revoked_at is not None
    assert not mine.is_usable
