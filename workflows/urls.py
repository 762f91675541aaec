from django.urls import path

from .webhook_views import webhook_receive_view

app_name = "workflows"

urlpatterns = [
    path("hooks/<str:token>/", webhook_receive_view, name="webhook"),
]
