from django.urls import path

from .webhook_views import webhook_receive_view

app_name = "workflows"

urlpatterns = [
    path("hooks/<str:token>/", webhook_receive_view, name="webhook"),
    # The same without the slash: CommonMiddleware would answer a POST there with a redirect
    # that drops its body (or, with DEBUG on, a RuntimeError page): senders often omit it.
    path("hooks/<str:token>", webhook_receive_view),
]
