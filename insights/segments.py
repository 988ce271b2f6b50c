"""Segment filters over RFM: recency, frequency and monetary scores, and the RFM segment."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from insights.models import RFMSegment
from members.segments.registry import Leaf, Value, register_filter

SCORES = Value("integer", many=True, minimum=1, maximum=5)
SEGMENTS = Value("string", many=True, choices=RFMSegment.choices)


def _rfm_sql(column: str):
    def compile_sql(leaf: Leaf, m: str):
        sql = f"EXISTS (SELECT 1 FROM insights_memberrfm rfm WHERE rfm.member_id = {m}.id AND rfm.{column} = ANY(%s))"
        return (f"NOT {sql}" if leaf.op == "not_in" else sql), [sorted(set(leaf.value))]

    return compile_sql


def register() -> None:
    group = _("Purchases (RFM)")
    for order, (key, column, label) in enumerate(
        (
            ("rfm_recency", "r_score", _("Recency score (5 = bought most recently)")),
            ("rfm_frequency", "f_score", _("Frequency score (5 = buys most often)")),
            ("rfm_monetary", "m_score", _("Monetary score (5 = spends most)")),
        )
    ):
        register_filter(
            key,
            label,
            group=group,
            order=300 + order,
            value_schema={"in": SCORES, "not_in": SCORES},
            compile_sql=_rfm_sql(column),
        )
    register_filter(
        "rfm_segment",
        _("RFM segment"),
        group=group,
        order=303,
        value_schema={"in": SEGMENTS, "not_in": SEGMENTS},
        compile_sql=_rfm_sql("segment"),
    )
