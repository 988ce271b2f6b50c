"""Figures across orders, tiers and points: RFM per member, repurchase, order value, GMV share."""
