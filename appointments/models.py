"""Services, staff availability, bookings and visits."""
