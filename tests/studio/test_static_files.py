"""Production static files: collectstatic gathers the theme's and ours, hashed and compressed."""

from __future__ import annotations

import json

from django.core.management import call_command


def test_collectstatic_gathers_unfold_chart_js_and_the_studio_files(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    for name in (
        "unfold/js/chart/chart.js",
        "studio/studio.css",
        "studio/workflow_form.js",
        "studio/live_preview.js",
    ):
        assert name in manifest
        assert (tmp_path / f"{manifest[name]}.gz").exists()  # whitenoise serves it compressed


def test_a_development_checkout_serves_static_files_from_any_wsgi_server(settings, client):
    """DEBUG on, nothing collected: whitenoise finds the files in the apps (the README's
    gunicorn command in a fresh clone shows a styled admin, not 404s)."""
    settings.DEBUG = True
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    for path in ("/static/unfold/js/app.js", "/static/studio/studio.css"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert b"".join(response.streaming_content)
