"""Rules: elementwise (filled in by the rule tables below)."""
