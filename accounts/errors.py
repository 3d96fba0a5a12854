"""Domain errors raised by accounts services; protocol edges translate them."""


class AccountsError(Exception):
    """Base for refusals a caller can show to whoever asked for the change."""


class UsernameTaken(AccountsError):
    def __init__(self, username: str, *, among: str = "in this organization"):
        super().__init__(f"A user with userName {username!r} already exists {among}.")
        self.username = username


class GroupNameTaken(AccountsError):
    def __init__(self, display_name: str):
        super().__init__(
            f"A group with displayName {display_name!r} already exists in this organization."
        )
        self.display_name = display_name


class OrganizationSlugTaken(AccountsError):
    def __init__(self, slug: str):
        super().__init__(f"An organization with slug {slug!r} already exists.")
        self.slug = slug


class DomainTaken(AccountsError):
    def __init__(self, domain: str):
        super().__init__(f"{domain} is already one of this organization's domains.")
        self.domain = domain


class CrossOrganizationMember(AccountsError):
    def __init__(self):
        super().__init__("Group members must be users of the group's own organization.")


class UnknownMember(AccountsError):
    """A member named by an id that is no user of the group's organization."""

    def __init__(self, user_id: str):
        super().__init__(f"No user with id {user_id!r} in this organization.")
        self.user_id = user_id


class InvalidValue(AccountsError):
    """A value the domain cannot hold (empty userName, unknown role, ...)."""


class PrivilegeRefused(AccountsError):
    """The actor may not make this change to this user (see docs/security.md)."""
