"""Public CRM endpoints: email tracking (open pixel, click redirect, unsubscribe)."""

from django.urls import path

from . import tracking_views

urlpatterns = [
    path("t/o/<str:token>.gif", tracking_views.open_pixel, name="studio-track-open"),
    path("t/c/<str:token>", tracking_views.click, name="studio-track-click"),
    path("t/u/<str:token>", tracking_views.unsubscribe, name="studio-track-unsubscribe"),
]
