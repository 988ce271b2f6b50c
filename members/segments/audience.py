"""One segment definition evaluated for one actor: what the audience builder, the member list narrowed
by a segment, the live preview, a segment's count and its export ask of a definition.

The definition is parsed and validated once, when the Audience is made; each answer (the count, the
id SQL, the queryset, a sample) is computed the first time it is asked for and kept. Make one per
request: it remembers what the database said, so a page that shows a count, a sample and a list of
the same audience asks for each of them once.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from functools import cached_property

from django.db.models import QuerySet

from members.models import Member
from members.segments import compiler, queries
from members.segments.definition import DefinitionError


class Audience:
    """`definition` (the JSON format of members/segments/definition.py) as `actor` sees it, cut to
    `store_id` when given (a store's own segment). An invalid definition is kept with its `errors`;
    asking it for members raises its DefinitionError."""

    def __init__(self, definition, *, actor, store_id: int | None = None, filters: list[dict] | None = None):
        self.definition = definition
        self.actor = actor
        self.store_id = store_id
        self.ms = 0.0  # spent in the database so far (count and sample), shown beside the count
        self._filters = filters
        self._samples: dict[int, list[Member]] = {}
        try:
            self.tree = queries.validate_definition(definition)
        except DefinitionError as exc:
            self.tree, self.error = None, exc
        else:
            self.error = None

    @classmethod
    def of_segment(cls, segment, *, actor) -> Audience:
        """A saved segment as `actor` sees it: a store segment stays in its store; a store actor
        reading a brand-wide one gets their store's part."""
        return cls(segment.definition, actor=actor, store_id=segment.store_id)

    @property
    def is_valid(self) -> bool:
        return self.error is None

    @property
    def errors(self) -> list[dict]:
        """[{"path": "$.all[1].value", "message": "..."}], empty for a valid definition."""
        return list(self.error.errors) if self.error is not None else []

    @property
    def filters(self) -> list[dict]:
        """The filters a definition can use (keys, labels, operators, value types), for the builder."""
        if self._filters is None:
            self._filters = queries.describe_filters()
        return self._filters

    def _valid_tree(self):
        if self.error is not None:
            raise DefinitionError(self.error.errors)
        return self.tree

    @contextmanager
    def _timed(self):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.ms = round(self.ms + (time.perf_counter() - started) * 1000, 1)

    @cached_property
    def count(self) -> int:
        """How many live members the actor may see match (exact, as of this request)."""
        tree = self._valid_tree()
        with self._timed():
            return queries.count(tree, self.actor, store_id=self.store_id)

    @cached_property
    def member_ids_sql(self) -> tuple[str, list]:
        """(sql, params) yielding the column `id` of every member, for set-based writers."""
        return queries.member_ids_sql(self._valid_tree(), self.actor, store_id=self.store_id)

    @cached_property
    def queryset(self) -> QuerySet:
        """A scoped queryset of the live members, for lists and exports. A bitmap audience is counted
        first (once, and kept) since its size decides how the queryset reads the index."""
        tree = self._valid_tree()
        known = self.count if compiler.is_bitmap(tree) else None
        return queries.member_queryset(tree, self.actor, store_id=self.store_id, known_count=known)

    def sample(self, n: int = 20) -> list[Member]:
        """The n newest members (home store and owner loaded); nothing is read for an empty audience."""
        if n not in self._samples:
            tree = self._valid_tree()
            if n <= 0 or self.count == 0:
                self._samples[n] = []
            else:
                with self._timed():
                    self._samples[n] = queries.sample(tree, self.actor, n, store_id=self.store_id)
        return self._samples[n]

    def preview(self, n: int = 20) -> dict:
        """count + sample + the milliseconds they took: what a builder shows while it is edited."""
        members = self.sample(n)
        return {"count": self.count, "sample": members, "ms": self.ms}
