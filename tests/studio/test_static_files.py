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
