"""On PostgreSQL the audit log refuses UPDATE and DELETE, whoever connects.

Two changes are allowed. Deleting a user sets `actor_id` to NULL, as the schema says
(`actor_name` keeps who it was). And the synthetic demo, which makes a year of history in
one go, may move `at` alone inside a transaction that has set
`auditcoach.backdating = 'on'` (`auditlog.services.backdating_allow`). SQLite
has no such guard (it is the single-user embedded database; the application never updates
or deletes entries either way).
"""

from typing import Any

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION auditlog_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'the audit log is append-only: DELETE refused'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.actor_id IS NULL
       AND (NEW.id, NEW.organization_id, NEW.actor_name, NEW.action, NEW.object_type,
            NEW.object_id, NEW.changes::text, NEW.ip, NEW.at)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.organization_id, OLD.actor_name, OLD.action, OLD.object_type,
            OLD.object_id, OLD.changes::text, OLD.ip, OLD.at) THEN
        RETURN NEW;  -- the user was deleted: ON DELETE SET NULL
    END IF;
    IF current_setting('auditcoach.backdating', true) = 'on'
       AND (NEW.id, NEW.organization_id, NEW.actor_id, NEW.actor_name, NEW.action,
            NEW.object_type, NEW.object_id, NEW.changes::text, NEW.ip)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.organization_id, OLD.actor_id, OLD.actor_name, OLD.action,
            OLD.object_type, OLD.object_id, OLD.changes::text, OLD.ip) THEN
        RETURN NEW;  -- the demo dating its synthetic history
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: UPDATE refused'
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER auditlog_append_only
    BEFORE UPDATE OR DELETE ON auditlog_auditlogentry
    FOR EACH ROW EXECUTE FUNCTION auditlog_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS auditlog_append_only ON auditlog_auditlogentry;
DROP FUNCTION IF EXISTS auditlog_append_only();
"""


def _on_postgresql(sql: str) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("auditlog", "0001_initial")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP))]
