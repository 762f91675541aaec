"""The hard monthly AI cost cap: reserve a call's most possible cost, settle its real cost.

Rule (docs/ai.md): a paid call may start only while the month's ``spent + reserved`` is below
the tenant's cap; starting reserves the call's maximum (``prompts.generation.max_cost``) on the
tenant's AiBudget row, taken under ``SELECT … FOR UPDATE``. After the call the reservation is
replaced by the real cost. So however many calls run at once, spend passes the cap by at most
the maximum of the one call that was admitted last: the overshoot is bounded by one call.

A call admitted inside an outer transaction (a workflow step) keeps the row locked until that
transaction ends, so a capped tenant's AI steps take turns; uncapped tenants take no lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F

from crm.models import Tenant
from prompts.models import AiBudget
from prompts.selectors import month_bounds, month_cost


class CostCapReached(Exception):
    """The tenant's monthly AI cost cap is spent; AI calls fail until the month turns."""


@dataclass(frozen=True)
class Reservation:
    """Money held for one call in flight; ``budget_id`` is None for a tenant without a cap."""

    budget_id: int | None
    amount: Decimal


NO_RESERVATION = Reservation(None, Decimal(0))


def usd(amount: Decimal) -> str:
    """Dollars with cents, or with every significant digit for sub-cent amounts ($0.0008)."""
    cents = amount.quantize(Decimal("0.01"))
    return f"${cents}" if cents == amount else f"${amount.normalize():f}"


def _cap_message(cap: Decimal, start: datetime, budget: AiBudget) -> str:
    held = f", {usd(budget.reserved)} held by calls in flight" if budget.reserved else ""
    return f"AI cost cap of {usd(cap)} for {start:%B %Y} reached ({usd(budget.spent)} spent{held})"


def _locked_budget(tenant: Tenant, now: datetime | None) -> tuple[AiBudget, datetime]:
    """The tenant's row for this month, locked; created from the month's StepLogs if new."""
    start, _ = month_bounds(tenant=tenant, now=now)
    month = start.date()
    rows = AiBudget.objects.select_for_update()
    budget = rows.filter(tenant=tenant, month=month).first()
    if budget is None:
        try:
            with transaction.atomic():  # a savepoint: losing the race to create is fine
                AiBudget.objects.create(
                    tenant=tenant, month=month, spent=month_cost(tenant=tenant, now=now)
                )
        except IntegrityError:
            pass
        budget = rows.get(tenant=tenant, month=month)
    return budget, start


def budget_reserve(*, tenant_id: int, amount: Decimal, now: datetime | None = None) -> Reservation:
    """Hold ``amount`` (USD) of this month's budget for one call, or raise CostCapReached.

    A call is admitted while ``spent + reserved`` is below the cap (see the module docstring).
    """
    tenant = Tenant.objects.only("ai_monthly_cost_cap", "timezone").get(pk=tenant_id)
    cap = tenant.ai_monthly_cost_cap
    if cap is None:
        return NO_RESERVATION
    with transaction.atomic():
        budget, start = _locked_budget(tenant, now)
        if budget.spent + budget.reserved >= cap:
            raise CostCapReached(_cap_message(cap, start, budget))
        budget.reserved = F("reserved") + amount
        budget.save(update_fields=["reserved", "updated_at"])
    return Reservation(budget.pk, amount)


def budget_settle(reservation: Reservation, cost: Decimal | None) -> None:
    """Replace the held amount by the real ``cost``; None (unknown) keeps the held amount."""
    if reservation.budget_id is None:
        return
    real = reservation.amount if cost is None else cost
    AiBudget.objects.filter(pk=reservation.budget_id).update(
        reserved=F("reserved") - reservation.amount, spent=F("spent") + real
    )


def cost_cap_check(*, tenant_id: int, now: datetime | None = None) -> None:
    """Raise CostCapReached when the month's spend plus calls in flight has reached the cap."""
    tenant = Tenant.objects.only("ai_monthly_cost_cap", "timezone").get(pk=tenant_id)
    cap = tenant.ai_monthly_cost_cap
    if cap is None:
        return
    start, _ = month_bounds(tenant=tenant, now=now)
    budget = AiBudget.objects.filter(tenant=tenant, month=start.date()).first()
    if budget is None:
        budget = AiBudget(spent=month_cost(tenant=tenant, now=now))
    if budget.spent + budget.reserved >= cap:
        raise CostCapReached(_cap_message(cap, start, budget))
