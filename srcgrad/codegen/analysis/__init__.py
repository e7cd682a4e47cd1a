"""Pure analyses over normalized functions; each returns a frozen side table."""
