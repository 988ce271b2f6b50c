from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from scrm.actors import SystemActor
from scrm.models import User
from scrm.services import staff


class Command(BaseCommand):
    help = "Reset a staff account's password and print the new one (generated unless --password)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", help="the new password (default: a generated one)")

    def handle(self, *args, username, password, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no staff account named {username!r}")
        try:
            new = staff.reset_password(user=user, password=password, actor=SystemActor("command:reset_password"))
        except ValidationError as exc:
            raise CommandError("password rejected: " + " ".join(exc.messages)) from None
        self.stderr.write(f"Password of {username} reset; they can log in with it now.")
        self.stdout.write(new)
