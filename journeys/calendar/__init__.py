"""The content calendar: WeCom Moments and customer-group posts planned by date, sent as WeCom tasks
staff confirm, with each staff member's completion."""
