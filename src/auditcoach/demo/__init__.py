"""Synthetic demo data: a small health system's year of quarterly coding audits."""
