"""The state database: alert states, run history, silences, the notification outbox and delivery log."""
