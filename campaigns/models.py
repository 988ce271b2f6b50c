"""Mass messages, channels, deliveries, frequency policy, journeys and staff tasks."""
