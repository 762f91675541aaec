"""Every registered admin screen answers without a server error, for a superuser and for staff."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from api.services import api_token_create
from tests.studio.cast import populate, studio_staff

pytestmark = pytest.mark.django_db


def admin_urls(model) -> dict[str, str]:
    opts = model._meta
    return {
        "changelist": f"/admin/{opts.app_label}/{opts.model_name}/",
        "add": f"/admin/{opts.app_label}/{opts.model_name}/add/",
    }


def object_urls(obj) -> list[str]:
    opts = obj._meta
    base = f"/admin/{opts.app_label}/{opts.model_name}/{obj.pk}"
    return [f"{base}/change/", f"{base}/delete/", f"{base}/history/"]


@pytest.fixture
def every_kind_of_row():
    populate("Alpha")
    populate("Beta")
    Group.objects.create(name="Operators")
    owner = get_user_model().objects.create_user("token-owner", password="pw", is_staff=True)
    api_token_create(user=owner, name="builder")
    interval = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.MINUTES)
    CrontabSchedule.objects.create(minute="0", hour="9")
    SolarSchedule.objects.create(event="sunrise", latitude=52.5, longitude=13.4)
    ClockedSchedule.objects.create(clocked_time=timezone.now())
    PeriodicTask.objects.create(name="tick", task="engine.tasks.tick", interval=interval)


def walk(client) -> list[tuple[str, int]]:
    visited = []
    for model in admin.site._registry:
        urls = admin_urls(model)
        for url in urls.values():
            visited.append((url, client.get(url).status_code))
        # An empty add form comes back with its errors (or is refused), never a 500.
        visited.append((f"POST {urls['add']}", client.post(urls["add"], {}).status_code))
        for obj in model._default_manager.all()[:2]:
            visited.extend((url, client.get(url).status_code) for url in object_urls(obj))
    return visited


def test_no_admin_screen_of_any_registered_model_fails_for_a_superuser(client, every_kind_of_row):
    root = get_user_model().objects.create_superuser("root", "root@x.test", "pw")
    client.force_login(root)
    visited = walk(client)
    failures = [(url, status) for url, status in visited if status >= 500]
    assert failures == []
    # The walk reached the change pages of every model, not only the lists.
    changed = {url.split("/")[3] for url, status in visited if url.endswith("/change/")}
    assert {m._meta.model_name for m in admin.site._registry} <= changed


@pytest.mark.parametrize("role", ["owner", "editor", "viewer"])
def test_no_admin_screen_fails_for_tenant_staff_of_any_role(client, every_kind_of_row, role):
    from crm.models import Tenant

    client.force_login(studio_staff(Tenant.objects.get(slug="alpha"), role=role))
    failures = [(url, status) for url, status in walk(client) if status >= 500]
    assert failures == []


def test_the_version_add_page_is_refused_cleanly_not_a_server_error(admin_client):
    response = admin_client.get("/admin/workflows/workflowversion/add/")
    assert response.status_code == 403
