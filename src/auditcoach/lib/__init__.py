"""Small framework-free helpers, grouped by topic: the process supervisor, JSON logs, and
safezip (opening untrusted archives)."""
