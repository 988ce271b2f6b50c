"""Store services and appointments: what each store offers, the slots staff can give, bookings by the
member, their guide or an integration, the visit and its follow-up."""
