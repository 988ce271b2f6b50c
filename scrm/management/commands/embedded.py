"""Show or stop the embedded servers; this command starts nothing (manage.py leaves them alone for it)."""

from django.core.management.base import BaseCommand

from scrm import embedded


class Command(BaseCommand):
    help = "Show or stop the embedded PostgreSQL and Redis under var/."

    def add_arguments(self, parser):
        parser.add_argument("--stop", action="store_true", help="stop both servers whoever started them")

    def handle(self, *args, stop, **options):
        if stop:
            embedded.stop_all()
            self.stdout.write("Embedded PostgreSQL and Redis stopped.")
            return
        pg, rd = embedded.Postgres(), embedded.Redis()
        self.stdout.write(f"PostgreSQL: {'running' if pg.running() else 'stopped'}  data {pg.pgdata}  url {pg.url}")
        self.stdout.write(f"Redis:      {'running' if rd.running() else 'stopped'}  data {rd.root}  url {rd.url}")
