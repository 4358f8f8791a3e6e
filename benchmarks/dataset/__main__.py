"""`python -m benchmarks.dataset`: Django is set up before anything imports a model."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django.setup()

from benchmarks.dataset.cli import main  # noqa: E402

main()
