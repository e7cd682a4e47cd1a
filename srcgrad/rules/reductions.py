"""Rules: reductions (filled in by the rule tables below)."""
