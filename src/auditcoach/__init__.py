"""AuditCoach: an open medical coding audit platform built for coaching."""
