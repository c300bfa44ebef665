"""Operations: serving in production, the health check, security headers, idle sessions, logs."""
