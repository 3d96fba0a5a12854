"""One OpenSSH public key line in, a ParsedKey out, or KeyRefused with a message for a person.

The line is what `ssh-keygen` writes to a .pub file and what an identity provider sends:
`<type> <base64 blob> [comment]` (the authorized_keys format of sshd(8), without options).
Every accepted type is read by cryptography's `load_ssh_public_key`, which checks the RFC 4253
§6.6 string framing, that the type named inside the blob equals the line's type, that nothing
trails the key, and the key itself (RSA numbers, a point on the curve, a 32-byte ed25519 key):

- ssh-ed25519 (RFC 8709), ecdsa-sha2-nistp256/384/521 (RFC 5656), ssh-rsa (RFC 4253 §6.6);
- sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com (OpenSSH PROTOCOL.u2f: that
  key followed by an application string starting with "ssh:"), read since cryptography 43
  (pyca/cryptography#10608); so nothing here parses a blob by hand. With an older
  cryptography these two are refused as unreadable, never accepted unchecked.

Tightened past the library: only these seven types (no certificates, no DSA), strict base64,
RSA between 2048 and 16384 bits, one line, no authorized_keys options, no private keys.
No message ever quotes the input: a pasted private key must not be echoed to a page or a log.
"""

import base64
import binascii
import hashlib
import re
import unicodedata
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import SSHPublicKeyTypes, load_ssh_public_key

MAX_LINE_BYTES = 16 * 1024
MAX_COMMENT_CHARS = 100
MIN_RSA_BITS = 2048
# OpenSSH refuses larger moduli (SSH_RSA_MAXIMUM_MODULUS_SIZE in sshkey.h): such a key
# could never log in.
MAX_RSA_BITS = 16384

ACCEPTED_TYPES = frozenset(
    {
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "ssh-rsa",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)
DSA_TYPE = "ssh-dss"

NO_KEY = "Paste an SSH public key (one line starting with ssh-ed25519, ecdsa-sha2-... or ssh-rsa)."
TOO_LONG = f"An SSH public key line is at most {MAX_LINE_BYTES // 1024} KiB; this text is longer."
PRIVATE_KEY = (
    "This is a private key. Paste the public key instead (the .pub file); "
    "never share the private key."
)
RFC4716_KEY = (
    "This public key is in SSH2 (RFC 4716) format. Paste it in OpenSSH format instead: "
    "one line starting with ssh-ed25519, ecdsa-sha2-... or ssh-rsa."
)
UNREADABLE_CHARACTERS = "This text contains control characters and cannot be read as an SSH key."
SEVERAL_KEYS = "Paste one SSH public key at a time; this text has more than one line."
WITH_OPTIONS = "Paste the key alone, without authorized_keys options."
DSA_REFUSED = "DSA keys are not accepted: OpenSSH disabled them; use an ed25519 key."
UNREADABLE_KEY = "This is not an SSH public key that can be read."

# PEM (RFC 7468) and OpenSSH armour both say "BEGIN ... PRIVATE KEY": OPENSSH, RSA, EC, DSA,
# ENCRYPTED, plain PKCS#8 and the ssh.com "BEGIN SSH2 ENCRYPTED PRIVATE KEY". PuTTY's .ppk
# carries its private part in the same file as its header.
_PRIVATE_KEY_MARKER = re.compile(r"BEGIN [A-Z0-9 ]*PRIVATE KEY|PuTTY-User-Key-File-")
# RFC 4716 §3.2: the SSH2 public key file begins with this line (PuTTYgen's "Save public key").
_RFC4716_MARKER = "---- BEGIN SSH2 PUBLIC KEY ----"
# Tabs separate fields in authorized_keys; every other C0/C1 control, invisible format
# character (bidi overrides in a comment) or lone surrogate means the text is not a key line.
_UNREADABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})


@dataclass(frozen=True)
class ParsedKey:
    key_type: str
    normalized: str
    fingerprint: str
    comment: str
    bits: int


class KeyRefused(ValueError):
    """Why a key was refused, in one line for a person; never quotes the key."""


def parse_public_key(text) -> ParsedKey:
    line = _single_line(text)
    key_type, blob_base64, comment = _fields(line)
    blob = _decode_blob(blob_base64)
    # Re-encoded, so that one key is stored as one string however it was pasted.
    normalized = f"{key_type} {base64.b64encode(blob).decode()}"
    return ParsedKey(
        key_type=key_type,
        normalized=normalized,
        fingerprint=_fingerprint(blob),
        comment=comment[:MAX_COMMENT_CHARS].rstrip(),
        bits=_bits(_load(normalized)),
    )


@dataclass(frozen=True)
class PresentedKey:
    """The key a login presents, as far as a decision needs it (`presented_key`)."""

    key_type: str
    fingerprint: str


def presented_key(text) -> PresentedKey | None:
    """The type and fingerprint of the key a login presents, or None for a line that
    cannot be a key (`parse_public_key`'s checks of the line, without its messages).

    The key itself is not loaded: a decision looks it up by its fingerprint among the
    person's registered keys, each of which was loaded and checked when it was
    registered, so a blob that is no key matches none. The line's type must then be the
    registered key's (`KeyType` inside its blob), which the decision compares.
    """
    try:
        key_type, blob_base64, _ = _fields(_single_line(text))
        return PresentedKey(key_type=key_type, fingerprint=_fingerprint(_decode_blob(blob_base64)))
    except KeyRefused:
        return None


def fingerprint_of(normalized: str) -> str:
    """The fingerprint of a key stored as ParsedKey.normalized."""
    return _fingerprint(base64.b64decode(normalized.split()[1], validate=True))


def split_keys(text: str) -> list[str]:
    """The non-blank lines of an identity provider's multi-key value (LF or CRLF)."""
    return [line.strip() for line in text.split("\n") if line.strip()]


def _single_line(text) -> str:
    if not isinstance(text, str) or not text.strip():
        raise KeyRefused(NO_KEY)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_LINE_BYTES:
        raise KeyRefused(TOO_LONG)
    # Before the line checks: a private key spans several lines and must get its own message.
    if _PRIVATE_KEY_MARKER.search(text):
        raise KeyRefused(PRIVATE_KEY)
    if _RFC4716_MARKER in text:
        raise KeyRefused(RFC4716_KEY)
    lines = split_keys(text)
    if any(_unreadable(line) for line in lines):
        raise KeyRefused(UNREADABLE_CHARACTERS)
    if len(lines) > 1:
        raise KeyRefused(SEVERAL_KEYS)
    return lines[0]


def _unreadable(line: str) -> bool:
    # A printable line holds no control, format or surrogate character (str.isprintable
    # is false for all three): the common case, without a lookup per character.
    if line.replace("\t", " ").isprintable():
        return False
    return any(ch != "\t" and unicodedata.category(ch) in _UNREADABLE_CATEGORIES for ch in line)


def _fields(line: str) -> tuple[str, str, str]:
    key_type, *after = line.split(maxsplit=2)
    if key_type == DSA_TYPE:
        raise KeyRefused(DSA_REFUSED)
    if key_type not in ACCEPTED_TYPES:
        # sshd(8) AUTHORIZED_KEYS FILE FORMAT: options come first, then the key type.
        if any(word in ACCEPTED_TYPES or word == DSA_TYPE for word in line.split()):
            raise KeyRefused(WITH_OPTIONS)
        raise KeyRefused(UNREADABLE_KEY)
    if not after:
        raise KeyRefused(UNREADABLE_KEY)
    return key_type, after[0], after[1] if len(after) > 1 else ""


def _decode_blob(blob_base64: str) -> bytes:
    # binascii's default skips characters outside the alphabet; a key must be all base64.
    try:
        return base64.b64decode(blob_base64, validate=True)
    except (binascii.Error, ValueError):
        raise KeyRefused(UNREADABLE_KEY) from None


def _bits(key: SSHPublicKeyTypes) -> int:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return 256
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.curve.key_size
    # ACCEPTED_TYPES leaves RSA as the only other kind.
    if key.key_size < MIN_RSA_BITS:
        raise KeyRefused(
            f"RSA keys must have at least {MIN_RSA_BITS} bits; this one has {key.key_size}."
        )
    if key.key_size > MAX_RSA_BITS:
        raise KeyRefused(
            f"RSA keys may have at most {MAX_RSA_BITS} bits; this one has {key.key_size}."
        )
    return key.key_size


def _load(normalized: str) -> SSHPublicKeyTypes:
    # cryptography's messages can quote the key type or the application string: none is shown.
    try:
        return load_ssh_public_key(normalized.encode("ascii"))
    except (ValueError, UnsupportedAlgorithm, NotImplementedError):
        raise KeyRefused(UNREADABLE_KEY) from None


def _fingerprint(blob: bytes) -> str:
    # As `ssh-keygen -l` prints it (OpenSSH 6.8+): SHA-256 of the blob, base64 without padding.
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode()
    return f"SHA256:{digest.rstrip('=')}"
