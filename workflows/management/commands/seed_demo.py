import os

from django.core.management.base import BaseCommand

from crm.demo import seed_demo
from workflows.demo import seed_ab_history, seed_example_workflows


class Command(BaseCommand):
    help = "Create the demo tenant, a staff login, contacts, assets, prompts and sample workflows."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            default=os.environ.get("DEMO_PASSWORD", "studio-demo"),
            help="Password for the demo staff user (default: studio-demo or $DEMO_PASSWORD)",
        )

    def handle(self, *args, password: str, **options):
        tenant, login, created = seed_demo(password=password)
        self.stdout.write(f"Demo tenant '{tenant.slug}': {created} new contacts.")
        self.stdout.write("Sample workflows (examples/; a draft would not run clean here):")
        for seeded in seed_example_workflows(tenant=tenant):
            self.stdout.write(f"  {seeded.describe()}")
        history = seed_ab_history(tenant=tenant)
        if history:
            self.stdout.write("A/B tests given a finished past (simulated; nothing was sent):")
            for done in history:
                self.stdout.write(f"  {done.describe()}")
        self.stdout.write(
            self.style.SUCCESS(f"Admin login: username '{login.username}', password '{password}'")
        )
