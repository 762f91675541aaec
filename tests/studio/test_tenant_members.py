"""The tenant page's member inline writes through the membership services and shows refusals."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from crm.models import Tenant, TenantMembership
from tests.cast import make_staff, make_tenant
from tests.studio.cast import studio_staff

pytestmark = pytest.mark.usefixtures("require_postgres")

PREFIX = "memberships"


@pytest.fixture
def tenant():
    return make_tenant("members-co", name="Members Co")


def manager(tenant, role: str):
    """Staff with ``role`` in ``tenant`` and the permissions the tenant page needs."""
    user = studio_staff(tenant, role=role)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="crm", content_type__model__in=["tenant", "tenantmembership"]
        )
    )
    return user


def post_members(client, tenant: Tenant, rows: list[dict], new: list[dict] = ()):
    """POST the tenant page with ``rows`` (existing memberships: id, role, DELETE) and
    ``new`` (user, role) as the inline's forms."""
    data = {
        "name": tenant.name,
        "slug": tenant.slug,
        "timezone": tenant.timezone,
        "phone_region": "",
        "ai_monthly_cost_cap": "",
        f"{PREFIX}-TOTAL_FORMS": str(len(rows) + len(new)),
        f"{PREFIX}-INITIAL_FORMS": str(len(rows)),
        f"{PREFIX}-MIN_NUM_FORMS": "0",
        f"{PREFIX}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate([*rows, *new]):
        membership = row.get("membership")
        if membership is not None:
            data[f"{PREFIX}-{i}-id"] = str(membership.pk)
            data[f"{PREFIX}-{i}-tenant"] = str(tenant.pk)
            data[f"{PREFIX}-{i}-user"] = str(membership.user_id)
        else:
            data[f"{PREFIX}-{i}-tenant"] = str(tenant.pk)
            data[f"{PREFIX}-{i}-user"] = str(row["user"].pk)
        data[f"{PREFIX}-{i}-role"] = row["role"]
        if row.get("delete"):
            data[f"{PREFIX}-{i}-DELETE"] = "on"
    return client.post(f"/admin/crm/tenant/{tenant.pk}/change/", data)


def roles(tenant) -> dict[str, str]:
    return dict(tenant.memberships.values_list("user__username", "role"))


def membership_of(user, tenant) -> TenantMembership:
    return TenantMembership.objects.get(user=user, tenant=tenant)


def test_an_owner_adds_changes_and_removes_members_through_the_services(client, tenant):
    owner = manager(tenant, "owner")
    editor = make_staff(tenant)  # an editor, to demote and later remove
    newcomer = make_staff(username="newcomer")
    client.force_login(owner)
    me, them = membership_of(owner, tenant), membership_of(editor, tenant)
    response = post_members(
        client,
        tenant,
        [{"membership": me, "role": "owner"}, {"membership": them, "role": "viewer"}],
        [{"user": newcomer, "role": "admin"}],
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert roles(tenant) == {owner.username: "owner", editor.username: "viewer",
                             "newcomer": "admin"}  # fmt: skip

    post_members(
        client,
        tenant,
        [{"membership": me, "role": "owner"}, {"membership": them, "role": "viewer", "delete": 1},
         {"membership": membership_of(newcomer, tenant), "role": "admin"}],
    )  # fmt: skip
    assert editor.username not in roles(tenant)


def test_the_last_owner_cannot_be_demoted_or_removed_and_the_form_says_why(client, tenant):
    owner = manager(tenant, "owner")
    client.force_login(owner)
    me = membership_of(owner, tenant)
    for row in ({"membership": me, "role": "admin"}, {"membership": me, "role": "owner",
                                                      "delete": 1}):  # fmt: skip
        response = post_members(client, tenant, [row])
        assert response.status_code == 200  # the form again, not a redirect and not a 500
        assert "is the last owner of tenant &#x27;members-co&#x27;" in response.content.decode()
        assert roles(tenant) == {owner.username: "owner"}


def test_handing_over_the_owner_role_in_one_save_works(client, tenant):
    owner = manager(tenant, "owner")
    successor = make_staff(tenant)
    client.force_login(owner)
    response = post_members(
        client,
        tenant,
        [{"membership": membership_of(owner, tenant), "role": "admin"},
         {"membership": membership_of(successor, tenant), "role": "owner"}],
    )  # fmt: skip
    assert response.status_code == 302
    assert roles(tenant) == {owner.username: "admin", successor.username: "owner"}


def test_an_admin_cannot_make_an_owner_nor_add_another_tenants_user(client, tenant):
    admin = manager(tenant, "admin")
    make_staff(tenant, username="boss").tenant_memberships.update(role="owner")
    outsider = make_staff(make_tenant("elsewhere"), username="outsider")
    newcomer = make_staff(username="newcomer")
    client.force_login(admin)
    before = roles(tenant)

    response = post_members(
        client, tenant, [{"membership": membership_of(admin, tenant), "role": "owner"}]
    )
    text = response.content.decode()
    assert response.status_code == 200
    assert "only an owner of tenant &#x27;members-co&#x27; may grant or take the owner role" in text

    response = post_members(client, tenant, [], [{"user": newcomer, "role": "owner"}])
    assert "newcomer: only an owner" in response.content.decode()

    response = post_members(client, tenant, [], [{"user": outsider, "role": "viewer"}])
    assert "belongs to a tenant you are not a member of" in response.content.decode()
    assert roles(tenant) == before
