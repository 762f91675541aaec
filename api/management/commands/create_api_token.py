"""Make an API token for a user and print its key (the only time it is shown)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from api.services import api_token_create


class Command(BaseCommand):
    help = "Make an API token for a user; prints the key once (store it now)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="what the token is for")
        parser.add_argument("--days", type=int, help="expire after this many days")

    def handle(self, *args, username: str, name: str, days: int | None, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user '{username}'")
        try:
            made = api_token_create(user=user, name=name, days=days)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        expiry = made.token.expires_at.isoformat() if made.token.expires_at else "never"
        self.stderr.write(f"token '{made.token.name}' for {username}, expires {expiry}")
        self.stdout.write(made.key)
