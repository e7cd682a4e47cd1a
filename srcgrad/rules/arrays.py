"""Rules: arrays (filled in by the rule tables below)."""
