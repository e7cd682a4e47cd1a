"""Spec tables: each module defines CASES, a list of rulespec.Case rows."""
