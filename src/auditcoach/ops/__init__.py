"""Operations: serving in production, the health check, security headers, idle sessions,
logs, and backing up and restoring the embedded database."""
