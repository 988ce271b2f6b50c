"""Import jobs: one uploaded file of members, identities and tags, its mode, its progress, its counts
and its row-by-row error report. Exports leave no row here; they are recorded in the audit log."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from scrm.models import ApiKey, Store
from scrm.scoping import ScopedManager


class _MediaStorage(FileSystemStorage):
    """MEDIA_ROOT when the project sets one, otherwise <SIYU_DATA_DIR or var/>/media: never the
    working directory. Web and workers must share it (a shared volume, or a remote default storage)."""

    @cached_property
    def base_location(self):
        configured = self._value_or_setting(self._location, settings.MEDIA_ROOT)
        if configured:
            return configured
        import os

        return str(Path(os.environ.get("SIYU_DATA_DIR") or Path(settings.BASE_DIR) / "var") / "media")


_storage = _MediaStorage()


def io_storage():
    return _storage


class ImportMode(models.TextChoices):
    DRY_RUN = "dry_run", _("Dry run: check only, write nothing")
    STRICT = "strict", _("All or nothing: import only if every row is valid")
    VALID_ROWS = "valid_rows", _("Import the valid rows, report the others")


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    VALIDATING = "validating", _("Checking")
    IMPORTING = "importing", _("Importing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ImportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "XLSX"


class ImportJob(models.Model):
    """An uploaded file and what became of it. A store manager's job is bound to their store
    (`store`): every row must belong there. An operator's job has no store and may name any."""

    file = models.FileField(_("file"), upload_to="imports/%Y/%m/", storage=io_storage, max_length=255)
    original_name = models.CharField(_("file name"), max_length=255)
    size_bytes = models.BigIntegerField(_("size"), default=0)
    format = models.CharField(_("format"), max_length=8, choices=ImportFormat.choices)
    mode = models.CharField(_("mode"), max_length=12, choices=ImportMode.choices, default=ImportMode.DRY_RUN)
    status = models.CharField(_("status"), max_length=12, choices=ImportStatus.choices, default=ImportStatus.PENDING)
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, db_index=False, null=True, blank=True,
        related_name="+",
        help_text=_("Rows may only belong to this store. Empty: any store (operators)."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    created_by_label = models.CharField(_("uploaded through"), max_length=100, blank=True,
                                        help_text=_("The API key that uploaded it."))
    api_key = models.ForeignKey(ApiKey, verbose_name=_("API key"), on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+")
    language = models.CharField(max_length=16, default="zh-hans", help_text=_("Language of the error report."))

    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_valid = models.PositiveIntegerField(_("valid rows"), default=0)
    rows_invalid = models.PositiveIntegerField(_("invalid rows"), default=0)
    created_count = models.PositiveIntegerField(_("members created"), default=0)
    updated_count = models.PositiveIntegerField(_("members updated"), default=0)
    tags_added = models.PositiveIntegerField(_("tags added"), default=0)
    identities_added = models.PositiveIntegerField(_("identities added"), default=0)
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    errors = models.JSONField(_("first errors"), default=list, blank=True,
                              help_text=_("The first errors: row, column, value, message."))
    report = models.FileField(_("error report"), upload_to="imports/reports/%Y/%m/", storage=io_storage,
                              max_length=255, blank=True)
    message = models.TextField(_("message"), blank=True,
                               help_text=_("An outcome without a code (a file that cannot be read), as written."))
    message_code = models.CharField(max_length=32, blank=True,
                                    help_text=_("The outcome, worded in the reader's language (members.io.messages)."))
    message_params = models.JSONField(default=dict, blank=True)
    encoding = models.CharField(_("encoding"), max_length=16, blank=True,
                                help_text=_("What a CSV is read in (chosen or detected); empty for XLSX."))
    commit_of = models.OneToOneField(
        "self", verbose_name=_("committed from"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="commit", help_text=_("The dry run this import commits: each dry run is committed at most once."),
    )
    timings = models.JSONField(_("timings"), default=dict, blank=True, help_text=_("Seconds per phase."))
    attempts = models.PositiveSmallIntegerField(default=0)

    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("member import")
        verbose_name_plural = _("member imports")
        indexes = [
            models.Index(fields=["store", "-created_at"], name="import_store_recent"),
            models.Index(fields=["status"], name="import_status",
                         condition=models.Q(status__in=["pending", "validating", "importing"])),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"

    @property
    def is_running(self) -> bool:
        return self.status in (ImportStatus.PENDING, ImportStatus.VALIDATING, ImportStatus.IMPORTING)

    @property
    def writes(self) -> bool:
        return self.mode != ImportMode.DRY_RUN

    @property
    def summary(self) -> str:
        """The outcome in the reader's language (a job stored before codes keeps its text)."""
        from members.io import messages

        if self.message_code:
            return messages.job_message(self.message_code, self.message_params, self.message)
        return messages.job_message("", None, self.message)

    def rendered_errors(self) -> list[dict]:
        """The first errors, each worded in the reader's language."""
        from members.io import messages

        return messages.rendered(self.errors or [])

    @property
    def can_commit(self) -> bool:
        """A finished dry run with valid rows may be imported as it is, once."""
        return self.mode == ImportMode.DRY_RUN and self.status == ImportStatus.DONE and self.rows_valid > 0
