"""The rules of the domain as plain typed Python: no Django import anywhere below here.

- `model`: the plain data the rules take and return.
- `codes`: normalization of codes, POA values and modifiers (DESIGN §5, first paragraph).
- `compare`: original vs audited codes → findings and per-group tallies (DESIGN §5).
- `scoring`: additive totals and the pooled scores of DESIGN §6.
- `stats`: Wilson intervals and other small statistics.
- `workbook`: reading and validating audit workbooks (DESIGN §9).
"""
