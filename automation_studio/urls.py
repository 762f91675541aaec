from django.contrib import admin
from django.urls import include, path

from api.errors import (
    bad_request_view,
    page_not_found_view,
    permission_denied_view,
    server_error_view,
)

from .views import favicon, landing

urlpatterns = [
    path("", landing, name="landing"),
    # Pages without an icon link (the API's) still get one; browsers ask for this path.
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("", include("workflows.urls")),
    path("", include("crm.urls")),
]

handler400 = bad_request_view
handler403 = permission_denied_view
handler404 = page_not_found_view
handler500 = server_error_view
