"""The WSGI application; loaded only by servers (runserver included), never by commands."""

import os
import threading

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "auditcoach.settings")
application = get_wsgi_application()

# Serving pages with a missing, short or published SECRET_KEY would let anyone forge
# sessions: refuse here, so gunicorn and runserver alike fail with the reason.
from auditcoach.ops.checks import refuse_to_serve_without_secret_key  # noqa: E402

refuse_to_serve_without_secret_key()


def _warm_up() -> None:
    # Build the code-search indexes and load the code sets in the background, so the first
    # auditor to type in the workspace does not wait the 2-3 s they take to build.
    from auditcoach.codesets.knowledge import checker
    from auditcoach.codesets.search import warm_up

    warm_up()
    checker()


threading.Thread(target=_warm_up, name="auditcoach-warm-up", daemon=True).start()
