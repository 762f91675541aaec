from django.contrib import admin
from django.urls import include, path

from api.errors import server_error_view

from .views import landing

urlpatterns = [
    path("", landing, name="landing"),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("", include("workflows.urls")),
    path("", include("crm.urls")),
]

handler500 = server_error_view
