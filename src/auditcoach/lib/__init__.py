"""Small framework-free helpers, grouped by topic (supervisor, JSON logs)."""
