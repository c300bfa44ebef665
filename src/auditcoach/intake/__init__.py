"""Intake of claims and extracts from outside: every format ends as the §9 tables (DESIGN §14)."""
