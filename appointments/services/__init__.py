"""Appointments' business rules: the catalogue (services, skills, hours, time off), availability,
bookings and visits, their points, reminders and figures' inputs."""
