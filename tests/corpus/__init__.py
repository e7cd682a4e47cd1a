"""End-to-end corpora: small user-style programs checked in both modes."""
