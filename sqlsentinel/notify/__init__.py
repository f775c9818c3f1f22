"""Notifications: one module per channel, one delivery/retry loop, templates.

Nothing is imported here on purpose: `sqlsentinel run` loads this package only
when a notification is due, and then only the modules that notification needs.
"""
