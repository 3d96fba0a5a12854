"""Which of a user's email values is the address they sign in with.

SCIM keeps any string in `emails[].value` (RFC 7643 §4.1.2 says the value SHOULD be
an address, not MUST), so one odd directory entry never blocks a provisioning push.
Sign-in and the console match only values that are real addresses (RFC 5321, or
RFC 6531 for internationalized ones).
"""

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

WORK = "work"
_VALIDATOR = EmailValidator()


def is_address(value) -> bool:
    """RFC 5321 syntax as Django checks it, with RFC 6531's internationalized local part.

    RFC 6531 §3.3 adds every non-ASCII UTF-8 character to `atext`, so checking the local
    part with those characters read as an ASCII letter is exactly that extension;
    Django's validator already takes internationalized domains.
    """
    if not isinstance(value, str) or not value or len(value) > 254 or "@" not in value:
        return False
    local, _, domain = value.rpartition("@")
    ascii_local = "".join(c if c.isascii() else "a" for c in local)
    try:
        _VALIDATOR(f"{ascii_local}@{domain}")
    except ValidationError:
        return False
    return True


def sign_in_entry(emails) -> dict | None:
    """The primary valid address, else the first work one, else the first valid one."""
    valid = [e for e in emails or [] if isinstance(e, dict) and is_address(e.get("value"))]
    for choose in (
        lambda e: e.get("primary") is True,
        lambda e: str(e.get("type", "")).lower() == WORK,
        lambda e: True,
    ):
        for entry in valid:
            if choose(entry):
                return entry
    return None


def sign_in_columns(emails) -> dict:
    """The User columns that copy the sign-in address: email, email_type, email_primary."""
    entry = sign_in_entry(emails)
    if entry is None:
        return {"email": "", "email_type": "", "email_primary": False}
    return {
        "email": entry["value"],
        "email_type": str(entry.get("type") or ""),
        "email_primary": entry.get("primary") is True,
    }


def with_sign_in_address(emails, address: str) -> list:
    """`emails` with the sign-in address changed to `address` (an admin's edit)."""
    emails = [dict(e) for e in emails or [] if isinstance(e, dict)]
    current = sign_in_entry(emails)
    if current is not None:
        index = next(i for i, e in enumerate(emails) if e == current)
        if address:
            emails[index]["value"] = address
        else:
            del emails[index]
    elif address:
        primary = not any(e.get("primary") is True for e in emails)
        emails.append({"value": address, "type": WORK, "primary": primary})
    return emails
