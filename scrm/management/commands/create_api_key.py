from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from scrm import permissions as scope_registry
from scrm.actors import SystemActor
from scrm.errors import ServiceError
from scrm.models import Store
from scrm.services import api_keys


class Command(BaseCommand):
    help = "Create an API key for an integration and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="what the key is for, e.g. 'POS sync' or 'BI export'")
        parser.add_argument(
            "--scopes",
            default="read",
            help="comma-separated scopes (e.g. orders:write,members:read); 'read' (the default) is every read "
            "scope except privacy:read (data-subject export, which is only ever granted by name); 'all' is every "
            "scope the key can hold (a key limited to a store cannot change brand-wide settings). Known: "
            + ", ".join(scope_registry.all_scopes()),
        )
        parser.add_argument("--store", help="limit the key to one store, by store code")
        expiry = parser.add_mutually_exclusive_group()
        expiry.add_argument("--expires-in-days", type=int, help="expire after this many days")
        expiry.add_argument("--expires-at", help="expire at this ISO 8601 time, e.g. 2027-06-30T00:00:00+08:00")

    def handle(self, *args, name, scopes, store, expires_in_days, expires_at, **options):
        store_obj = None
        if store:
            store_obj = Store.objects.filter(code=store).first()
            if store_obj is None:
                raise CommandError(f"--store: no store with code {store!r}")
        try:
            scope_list = scope_registry.parse(scopes, store_bound=store_obj is not None)
        except ValueError as exc:
            raise CommandError(f"--scopes: {exc}") from None
        when = None
        if expires_in_days is not None:
            if expires_in_days <= 0:
                raise CommandError("--expires-in-days must be 1 or more")
            try:
                when = timezone.now() + timedelta(days=expires_in_days)
            except OverflowError:
                raise CommandError(f"--expires-in-days: {expires_in_days} days is past the year 9999") from None
        elif expires_at:
            try:
                when = parse_datetime(expires_at)
            except ValueError:  # well formed but impossible, e.g. month 13
                when = None
            if when is None:
                raise CommandError(f"--expires-at: {expires_at!r} is not an ISO 8601 date-time")
            if timezone.is_naive(when):
                when = timezone.make_aware(when)
            if when <= timezone.now():
                raise CommandError(f"--expires-at: {expires_at} is in the past")
        try:
            issued = api_keys.issue(
                name=name, scopes=scope_list, store=store_obj, expires_at=when, actor=SystemActor("command")
            )
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        key = issued.api_key
        self.stderr.write(
            f"Created API key '{key.name}' (prefix {key.prefix}), scopes: {', '.join(key.scopes) or 'none'}"
            f"{', store ' + store_obj.code if store_obj else ', all stores'}"
            f"{', expires ' + key.expires_at.isoformat() if key.expires_at else ', no expiry'}.\n"
            "Store it now: it will not be shown again. Send it as 'Authorization: Bearer <key>'."
        )
        self.stdout.write(issued.plaintext)
