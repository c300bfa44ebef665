"""The fixed test world: two organizations, one user per role, and the tenancy checklist.

`org` ("north-health") has a manager, an auditor, a coder (`coder_user`, linked to the roster
entry `coder`), an educator and a viewer. `outsider` is an auditor of `other_org`
("south-clinic") only. `client_for(user)` gives a signed-in test client, and
`assert_tenancy(url, allowed=..., forbidden=...)` runs the checklist every org view must pass.
"""

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import pytest
from django.core.cache import cache
from django.test import Client

from auditcoach.accounts.models import Coder, Organization, Role, User
from tests.factories import CoderFactory, MembershipFactory, OrganizationFactory, UserFactory

type ClientFor = Callable[[User | None], Client]


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _inline_tasks_and_memory_cache(settings: Any, tmp_path: Any) -> None:
    # Tasks run inline (Django's Immediate backend); the cache is per-process memory and
    # uploads go to a temporary folder, so tests share no state through var/.
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.MEDIA_ROOT = str(tmp_path / "media")
    # With DEBUG off the settings pick WhiteNoise's manifest storage, which needs
    # `collectstatic`; tests render pages without it (the serve test runs the real thing).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # ... and WhiteNoise looks files up per request instead of scanning the (absent) STATIC_ROOT.
    settings.WHITENOISE_AUTOREFRESH = True


@pytest.fixture(autouse=True)
def _clear_cache(_inline_tasks_and_memory_cache: None) -> Iterator[None]:
    # The login rate limit lives in the cache, which outlives a test.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def org(db: None) -> Organization:
    return OrganizationFactory(slug="north-health", name="North Health")


@pytest.fixture
def other_org(db: None) -> Organization:
    return OrganizationFactory(slug="south-clinic", name="South Clinic")


def _member(org: Organization, username: str, role: Role, first: str, last: str) -> User:
    user = UserFactory(username=username, first_name=first, last_name=last)
    MembershipFactory(user=user, organization=org, role=role)
    return user


@pytest.fixture
def manager(org: Organization) -> User:
    return _member(org, "manager", Role.MANAGER, "Maria", "Manager")


@pytest.fixture
def auditor(org: Organization) -> User:
    return _member(org, "auditor", Role.AUDITOR, "Alex", "Auditor")


@pytest.fixture
def coder_user(org: Organization) -> User:
    return _member(org, "coder", Role.CODER, "Casey", "Coder")


@pytest.fixture
def coder(org: Organization, coder_user: User) -> Coder:
    """The roster entry linked to `coder_user`."""
    return CoderFactory(organization=org, user=coder_user, name="Casey Coder")


@pytest.fixture
def educator(org: Organization) -> User:
    return _member(org, "educator", Role.EDUCATOR, "Eden", "Educator")


@pytest.fixture
def viewer(org: Organization) -> User:
    return _member(org, "viewer", Role.VIEWER, "Vic", "Viewer")


@pytest.fixture
def outsider(other_org: Organization) -> User:
    return _member(other_org, "outsider", Role.AUDITOR, "Otto", "Outsider")


@pytest.fixture
def client_for(db: None) -> ClientFor:
    """`client_for(user)`: a test client signed in as `user` (anonymous for None)."""

    def make(user: User | None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make


class AssertTenancy(Protocol):
    def __call__(
        self,
        url: str,
        *,
        allowed: Iterable[User],
        forbidden: Iterable[User] = (),
        method: str = "get",
        wrong_method: str | None = "post",
        data: dict[str, Any] | None = None,
    ) -> None: ...


def check_tenancy(
    client_for: ClientFor,
    url: str,
    *,
    allowed: Iterable[User],
    forbidden: Iterable[User] = (),
    outsider: User,
    org_slug: str = "north-health",
    method: str = "get",
    wrong_method: str | None = "post",
    data: dict[str, Any] | None = None,
) -> None:
    """The checklist for an organization view (STYLE.md, "Tenancy and permissions").

    - anonymous: redirect to the login page;
    - each allowed user: 2xx or 3xx;
    - the outsider (member of another organization only): 404;
    - the same URL with an unknown organization slug: 404 for an allowed user;
    - each forbidden user: 403;
    - an allowed user with `wrong_method` (None to skip): 405.
    Forbidden and outsider requests run before allowed ones, so a write view still sees its
    initial state when refused requests are checked. `data` goes with every request.
    """
    allowed = list(allowed)
    assert allowed, "check_tenancy needs at least one allowed user"

    def call(user: User | None, verb: str, target: str = url) -> Any:
        return getattr(client_for(user), verb)(target, data=data or {})

    response = call(None, method)
    assert response.status_code == 302, f"anonymous {method.upper()} {url}"
    assert "/accounts/login/" in response["Location"]

    response = call(outsider, method)
    assert response.status_code == 404, f"outsider {outsider} got {response.status_code}"

    prefix = f"/o/{org_slug}/"
    if prefix in url:
        unknown = url.replace(prefix, "/o/no-such-org/", 1)
        response = call(allowed[0], method, unknown)
        assert response.status_code == 404, f"unknown org gave {response.status_code}"

    for user in forbidden:
        response = call(user, method)
        assert response.status_code == 403, f"{user} ({method.upper()}) got {response.status_code}"

    if wrong_method is not None:
        response = call(allowed[0], wrong_method)
        assert response.status_code == 405, (
            f"{wrong_method.upper()} {url} as {allowed[0]} got {response.status_code}"
        )

    for user in allowed:
        response = call(user, method)
        assert 200 <= response.status_code < 400, f"{user} got {response.status_code}"


@pytest.fixture
def assert_tenancy(client_for: ClientFor, outsider: User, org: Organization) -> AssertTenancy:
    """`assert_tenancy(url, *, allowed, forbidden=(), method="get", wrong_method="post")`."""

    def run(
        url: str,
        *,
        allowed: Iterable[User],
        forbidden: Iterable[User] = (),
        method: str = "get",
        wrong_method: str | None = "post",
        data: dict[str, Any] | None = None,
    ) -> None:
        check_tenancy(
            client_for,
            url,
            allowed=allowed,
            forbidden=forbidden,
            outsider=outsider,
            org_slug=org.slug,
            method=method,
            wrong_method=wrong_method,
            data=data,
        )

    return run
