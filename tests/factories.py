"""factory_boy factories for accounts and rosters. Other apps add theirs beside their tests."""

from typing import Any

import factory
from factory.django import DjangoModelFactory, Password

from auditcoach.accounts.models import (
    Coder,
    Facility,
    Membership,
    Organization,
    Provider,
    Role,
    ServiceLine,
    User,
)

TEST_PASSWORD = "correct horse battery staple"


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username: Any = factory.Sequence(lambda n: f"user{n}")
    first_name: Any = factory.Faker("first_name")
    last_name: Any = factory.Faker("last_name")
    email: Any = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password: Any = Password(TEST_PASSWORD)


class OrganizationFactory(DjangoModelFactory[Organization]):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    slug: Any = factory.Sequence(lambda n: f"org-{n}")
    name: Any = factory.LazyAttribute(lambda org: org.slug.replace("-", " ").title())


class MembershipFactory(DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user: Any = factory.SubFactory(UserFactory)
    organization: Any = factory.SubFactory(OrganizationFactory)
    role: Any = Role.AUDITOR


class FacilityFactory(DjangoModelFactory[Facility]):
    class Meta:
        model = Facility

    organization: Any = factory.SubFactory(OrganizationFactory)
    name: Any = factory.Sequence(lambda n: f"Facility {n}")
    base_rate: Any = None


class ServiceLineFactory(DjangoModelFactory[ServiceLine]):
    class Meta:
        model = ServiceLine

    organization: Any = factory.SubFactory(OrganizationFactory)
    name: Any = factory.Sequence(lambda n: f"Service line {n}")


class ProviderFactory(DjangoModelFactory[Provider]):
    class Meta:
        model = Provider

    organization: Any = factory.SubFactory(OrganizationFactory)
    name: Any = factory.Sequence(lambda n: f"Dr. Provider {n}")


class CoderFactory(DjangoModelFactory[Coder]):
    class Meta:
        model = Coder

    organization: Any = factory.SubFactory(OrganizationFactory)
    name: Any = factory.Sequence(lambda n: f"Coder {n}")
    user: Any = None
