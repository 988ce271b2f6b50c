from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from scrm.actors import SystemActor
from scrm.models import Role, Store
from scrm.services import staff


class Command(BaseCommand):
    help = "Create a staff account (operator, store_manager or store_staff) and print its password."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", choices=Role.values, required=True)
        parser.add_argument("--store", help="store code (required for store roles)")
        parser.add_argument("--name", default="", help="display name")
        parser.add_argument("--password", help="default: a generated one")

    def handle(self, *args, username, role, store, name, password, **options):
        store_obj = None
        if store:
            store_obj = Store.objects.filter(code=store).first()
            if store_obj is None:
                raise CommandError(f"--store: no store with code {store!r}")
        password = password or staff.generate_password()
        try:
            user = staff.create_staff(
                username=username, role=role, store=store_obj, password=password, display_name=name,
                actor=SystemActor("command:create_staff"),
            )
        except ValidationError as exc:
            problems = exc.message_dict.items() if hasattr(exc, "error_dict") else [("error", exc.messages)]
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in problems)) from None
        self.stderr.write(f"Created {user.get_role_display()} {username}.")
        self.stdout.write(password)
