"""Order payloads for the tests."""

from __future__ import annotations


def order(**over):
    data = {
        "channel": "pos",
        "external_id": "SH01-0001",
        "placed_at": "2026-11-20T14:03:00+08:00",
        "total_amount": "358.00",
        "store": "SH01",
        "lines": [
            {"sku": "MP-900", "name": "有机奶粉 900g", "category": "milk powder", "quantity": 1, "amount": "298.00"},
            {"sku": "DP-L", "name": "纸尿裤 L 52片", "category": "diapers", "quantity": 2, "amount": "60.00"},
        ],
    }
    data.update(over)
    return data
