"""The state database: alert states, history, silences, the notification outbox, deliveries."""
