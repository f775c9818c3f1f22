"""The ground floor: alert specs and defaults, outcomes, the state machine, events, budgets.

Pure and import-light: nothing here imports another part of the package (only the
small leaf helpers at the top level), so every room above can build on it.
"""
