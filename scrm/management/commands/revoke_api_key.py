from django.core.management.base import BaseCommand, CommandError

from scrm.actors import SystemActor
from scrm.models import ApiKey
from scrm.services import api_keys


class Command(BaseCommand):
    help = "Revoke an API key by its prefix (the 8 characters after 'sy_'), or list keys with --list."

    def add_arguments(self, parser):
        parser.add_argument("prefix", nargs="?")
        parser.add_argument("--list", action="store_true", help="list keys with their state and last use")

    def handle(self, *args, prefix, list, **options):
        if list:
            for key in ApiKey.objects.select_related("store"):
                state = "active" if key.is_active() else ("revoked" if key.revoked_at else "expired")
                used = key.last_used_at.isoformat() if key.last_used_at else "never"
                scopes = ",".join(key.scopes)
                self.stdout.write(f"{key.prefix}  {state:<8} {key.name}  scopes={scopes}  last used {used}")
            return
        if not prefix:
            raise CommandError("give the key's prefix, or --list")
        key = ApiKey.objects.filter(prefix=prefix).first()
        if key is None:
            raise CommandError(f"no API key with prefix {prefix!r}")
        api_keys.revoke(api_key=key, actor=SystemActor("command"))
        self.stdout.write(f"Revoked API key '{key.name}' ({key.prefix}).")
