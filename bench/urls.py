"""The product's URLs plus the floor view (bench_journeys only)."""

from django.urls import path

from automation_studio.urls import urlpatterns as product
from bench.floor import floor_view

urlpatterns = [*product, path("bench/floor/", floor_view)]
