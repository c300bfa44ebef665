"""The `auditcoach` console command: Django's management commands with our settings."""

import os
import sys


def _command_name(argv: list[str]) -> list[str]:
    """Accept `org-create` for the management command `org_create` (Python modules need `_`)."""
    if len(argv) < 2 or "-" not in argv[1] or argv[1].startswith("-"):
        return argv
    import django
    from django.core.management import get_commands

    django.setup()
    candidate = argv[1].replace("-", "_")
    if argv[1] not in get_commands() and candidate in get_commands():
        return [argv[0], candidate, *argv[2:]]
    return argv


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "auditcoach.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(_command_name(sys.argv))


if __name__ == "__main__":
    main()
