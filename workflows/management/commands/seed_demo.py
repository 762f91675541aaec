import os

from django.core.management.base import BaseCommand

from crm.demo import seed_demo
from workflows.demo import example_paths, seed_ab_history, seed_example

from ._common import add_progress_arguments, progress_bar


class Command(BaseCommand):
    help = "Create the demo tenant, a staff login, contacts, assets, prompts and sample workflows."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            default=os.environ.get("DEMO_PASSWORD", "studio-demo"),
            help="Password for the demo staff user (default: studio-demo or $DEMO_PASSWORD)",
        )
        add_progress_arguments(parser)

    def handle(self, *args, password: str, progress, **options):
        tenant, login, created = seed_demo(password=password)
        self.stdout.write(f"Demo tenant '{tenant.slug}': {created} new contacts.")
        self.stdout.write("Sample workflows (examples/; a draft would not run clean here):")
        # Each example is dry-run for every demo contact before it is published: the slow part.
        paths = example_paths()
        with progress_bar(
            self, progress=progress, total=len(paths), unit="workflow", desc="sample workflows"
        ) as bar:
            for path in paths:
                seeded = seed_example(tenant=tenant, path=path)
                self.stdout.write(f"  {seeded.describe()}")
                bar.update(1)
        history = seed_ab_history(tenant=tenant)
        if history:
            self.stdout.write("A/B tests given a finished past (simulated; nothing was sent):")
            for done in history:
                self.stdout.write(f"  {done.describe()}")
        self.stdout.write(
            self.style.SUCCESS(f"Admin login: username '{login.username}', password '{password}'")
        )
