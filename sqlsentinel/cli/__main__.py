"""`python -m sqlsentinel.cli`, as the original SQL Sentinel documented it."""

from sqlsentinel.cli import main

main()
