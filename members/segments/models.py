"""Segments, their snapshots, and the exact bitmap index segments are counted from.

The index (`MemberBitmap`) holds, for each (dimension, key), which member ids belong to it, split in
chunks of 65,536 ids: member id -> chunk = id >> 16, bit = id & 65535. Dimensions kept by members:
"live" (key 0: not merged, not erased), "tag" (key = tag id), "store" (home store id, 0 for none),
"owner" (owner id, 0 for none) and "stage" (key = hashtext(stage)). Database triggers keep it exact
and current on every write (see members/segments/index.py); nothing in Python writes to it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scrm.models import Store
from scrm.scoping import ScopedManager

CHUNK_BITS = 65536  # ids per chunk; every bitmap row is exactly this many bits long
CHUNK_SHIFT = 16


class BitVaryingField(models.Field):
    """PostgreSQL `bit varying`; read and written as a '0101...' string (psycopg's text form)."""

    description = "bit varying"

    def db_type(self, connection):
        return "bit varying"


class MemberBitmap(models.Model):
    """One chunk of one (dimension, key)'s member set. Written only by triggers and `rebuild_index`."""

    pk = models.CompositePrimaryKey("dimension", "key", "chunk")
    dimension = models.CharField(max_length=24)
    key = models.BigIntegerField()
    chunk = models.IntegerField()
    bits = BitVaryingField()

    store_scope_field = None  # never listed; read only by the segment compiler, which scopes itself

    class Meta:
        verbose_name = _("member bitmap chunk")
        verbose_name_plural = _("member bitmap chunks")
        constraints = [models.CheckConstraint(condition=models.Q(chunk__gte=0), name="bitmap_chunk_positive")]

    def __str__(self) -> str:
        return f"{self.dimension}:{self.key}#{self.chunk}"


class Segment(models.Model):
    """A saved audience: a definition (see members/segments/definition.py) reusable by campaigns and
    the API. A segment of a store belongs to that store (its managers made it); a brand-wide one
    (store empty) is made by operators and shown to every store, read-only for store roles. Counts and
    member lists are always cut to the reader's store."""

    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=500, blank=True)
    definition = models.JSONField(_("definition"))
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True, related_name="segments"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    last_count = models.PositiveIntegerField(_("last count"), null=True, blank=True)
    last_counted_at = models.DateTimeField(_("last counted at"), null=True, blank=True)

    objects = ScopedManager()
    store_scope_field = "store"
    store_scope_shared = True  # brand-wide segments: every store may read and use them

    class Meta:
        ordering = ["-id"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")

    def __str__(self) -> str:
        return self.name


class SegmentSnapshot(models.Model):
    """The members of a segment at one moment, as the reader who took it could see them. Its members
    are stored as bitmap chunks (SnapshotChunk): a million members are written in well under a second
    and read back as ids with `queries.snapshot_member_ids`."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="snapshots")
    taken_at = models.DateTimeField(_("taken at"), default=timezone.now)
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    store = models.ForeignKey(
        Store,
        verbose_name=_("limited to store"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The store the snapshot was cut to; empty when it covers every store."),
    )
    member_count = models.PositiveIntegerField(_("members"), default=0)
    definition = models.JSONField(_("definition at the time"))

    # The store the snapshot was cut to: a store's snapshot of a brand-wide segment is its own.
    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["-taken_at", "-id"]
        verbose_name = _("segment snapshot")
        verbose_name_plural = _("segment snapshots")

    def __str__(self) -> str:
        return f"{self.segment_id}@{self.taken_at:%Y-%m-%d %H:%M}"


class SnapshotChunk(models.Model):
    """One chunk of a snapshot's members (same layout as MemberBitmap)."""

    pk = models.CompositePrimaryKey("snapshot", "chunk")
    snapshot = models.ForeignKey(SegmentSnapshot, on_delete=models.CASCADE, db_index=False, related_name="chunks")
    chunk = models.IntegerField()
    bits = BitVaryingField()

    objects = ScopedManager()
    store_scope_field = "snapshot__store"

    class Meta:
        verbose_name = _("snapshot chunk")
        verbose_name_plural = _("snapshot chunks")

    def __str__(self) -> str:
        return f"{self.snapshot_id}#{self.chunk}"
