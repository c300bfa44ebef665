"""Where each member's work is: the page a sign-in, the chooser or an invitation leads to."""

from django.urls import reverse

from auditcoach.accounts.models import Membership, Role


def landing_url(membership: Membership) -> str:
    """The landing page of `membership`'s role in its organization.

    A coder goes to My feedback, an auditor to the audits in review, an educator to the
    education list, a viewer and a manager to the dashboard. The one place this is decided:
    the front door, the organization chooser and invitation acceptance all call it.
    """
    kwargs = {"org_slug": membership.organization.slug}
    match membership.role:
        case Role.CODER:
            return reverse("coaching:feedback", kwargs=kwargs)
        case Role.AUDITOR:
            return reverse("audits:index", kwargs=kwargs) + "?status=in_review"
        case Role.EDUCATOR:
            return reverse("education:index", kwargs=kwargs)
        case _:
            return reverse("analytics:dashboard", kwargs=kwargs)
