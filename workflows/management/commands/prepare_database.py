from django.core.management.base import BaseCommand, CommandError

from automation_studio.database import DatabaseUnavailable, prepare_database


class Command(BaseCommand):
    help = (
        "Make sure the configured database answers; on PostgreSQL create it when it does not "
        "exist (run.py studio runs this before migrate)."
    )

    def handle(self, *args, **options):
        try:
            prepared = prepare_database()
        except DatabaseUnavailable as exc:
            raise CommandError(str(exc)) from None
        if prepared.created:
            self.stdout.write(f"Created database '{prepared.name}' on {prepared.where}.")
