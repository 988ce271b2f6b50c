"""Run the local WeCom server (wecom.fake) until interrupted: the demo's and the load test's corp.

The corp id, secret, callback token and EncodingAESKey come from WECOM_CORP_ID, WECOM_SECRET,
WECOM_TOKEN and WECOM_AES_KEY; any that is absent is generated and printed, so Siyu can be
configured with the same values.
"""

from __future__ import annotations

import os
import secrets
import threading

from django.core.management.base import BaseCommand, CommandError

from wecom.crypto import new_aes_key
from wecom.fake import names
from wecom.fake.corp import FakeCorp
from wecom.fake.server import start


class Command(BaseCommand):
    help = "Run the local WeCom server (a simulated corp speaking WeCom's server API)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8019)
        parser.add_argument("--callback-url", default=None, help="where to POST callbacks (Siyu's /wecom/callback/)")
        parser.add_argument("--staff", default="", help="comma-separated staff userids (default: the demo's staff)")
        parser.add_argument("--staff-count", type=int, default=None, help="generate this many staff instead")
        parser.add_argument("--contacts-per-staff", type=int, default=40)
        parser.add_argument("--shared-ratio", type=float, default=0.1)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--no-limits", action="store_true", help="lift the frequency and concurrency limits")

    def handle(self, *args, **options):
        credentials, generated = self._credentials()
        staff = [s.strip() for s in options["staff"].split(",") if s.strip()] or None
        if staff is None and not options["staff_count"]:
            staff = names.demo_staff()
        try:
            corp = FakeCorp(
                seed=options["seed"],
                staff=staff,
                staff_count=options["staff_count"],
                contacts_per_staff=options["contacts_per_staff"],
                shared_ratio=options["shared_ratio"],
                corp_id=credentials["WECOM_CORP_ID"],
                secret=credentials["WECOM_SECRET"],
            )
            kwargs = {"limits": None} if options["no_limits"] else {}
            server = start(
                corp,
                host=options["host"],
                port=options["port"],
                callback_url=options["callback_url"],
                token=credentials["WECOM_TOKEN"],
                aes_key=credentials["WECOM_AES_KEY"],
                **kwargs,
            )
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        for name in generated:
            self.stdout.write(f"{name}={credentials[name]}")
        self.stdout.write(
            f"WeCom server at {server.url}/cgi-bin/ : {len(corp.staff)} staff, {corp.contact_count()} contacts; "
            f"callbacks to {options['callback_url'] or '(none)'}"
        )
        self.stdout.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()

    @staticmethod
    def _credentials() -> tuple[dict[str, str], list[str]]:
        makers = {
            "WECOM_CORP_ID": lambda: "ww" + secrets.token_hex(8),
            "WECOM_SECRET": lambda: secrets.token_urlsafe(32),
            "WECOM_TOKEN": lambda: secrets.token_urlsafe(16),
            "WECOM_AES_KEY": new_aes_key,
        }
        values, generated = {}, []
        for name, make in makers.items():
            values[name] = os.environ.get(name) or ""
            if not values[name]:
                values[name] = make()
                generated.append(name)
        return values, generated
