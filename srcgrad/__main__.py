"""`python -m srcgrad`: the command line."""

from srcgrad.cli import app

app(prog_name="srcgrad")
