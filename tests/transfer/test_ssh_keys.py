"""Reading one pasted OpenSSH public key line: what is accepted, and what a person is told."""

import base64
import functools
import os
import shutil
import struct
import subprocess
import warnings

import pytest
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from transfer.ssh_keys import (
    MAX_LINE_BYTES,
    KeyRefused,
    fingerprint_of,
    parse_public_key,
    split_keys,
)

NO_KEY = "Paste an SSH public key (one line starting with ssh-ed25519, ecdsa-sha2-... or ssh-rsa)."
PRIVATE_KEY = (
    "This is a private key. Paste the public key instead (the .pub file); "
    "never share the private key."
)
UNREADABLE_KEY = "This is not an SSH public key that can be read."

_GENERATORS = {
    "ed25519": ed25519.Ed25519PrivateKey.generate,
    "ecdsa-256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "ecdsa-384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "ecdsa-521": lambda: ec.generate_private_key(ec.SECP521R1()),
    "rsa-1024": lambda: rsa.generate_private_key(65537, 1024),
    "rsa-2048": lambda: rsa.generate_private_key(65537, 2048),
    "rsa-3072": lambda: rsa.generate_private_key(65537, 3072),
    "dsa": lambda: dsa.generate_private_key(1024),
}


@functools.cache
def _private_key(kind):
    return _GENERATORS[kind]()


def _openssh_line(kind):
    public_key = _private_key(kind).public_key()
    with warnings.catch_warnings():
        # cryptography deprecates writing ssh-dss; the DSA test needs one such line.
        warnings.simplefilter("ignore")
        return public_key.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()


def _sshstr(data: bytes) -> bytes:
    # RFC 4253 §6.6 / RFC 4251 §5: a uint32 length, then the bytes.
    return struct.pack(">I", len(data)) + data


def _line(key_type: str, *fields: bytes) -> str:
    blob = _sshstr(key_type.encode()) + b"".join(_sshstr(field) for field in fields)
    return f"{key_type} {base64.b64encode(blob).decode()}"


def _sk_ed25519_line() -> str:
    # OpenSSH PROTOCOL.u2f: the ed25519 key, then the FIDO application string.
    raw = _private_key("ed25519").public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return _line("sk-ssh-ed25519@openssh.com", raw, b"ssh:")


def _sk_ecdsa_line(point: bytes | None = None) -> str:
    # OpenSSH PROTOCOL.u2f: the curve name, the uncompressed P-256 point, the application.
    if point is None:
        public_key = _private_key("ecdsa-256").public_key()
        point = public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return _line("sk-ecdsa-sha2-nistp256@openssh.com", b"nistp256", point, b"ssh:")


def _refusal(text) -> str:
    with pytest.raises(KeyRefused) as refused:
        parse_public_key(text)
    return str(refused.value)


ACCEPTED = [
    ("ed25519", "ssh-ed25519", 256),
    ("ecdsa-256", "ecdsa-sha2-nistp256", 256),
    ("ecdsa-384", "ecdsa-sha2-nistp384", 384),
    ("ecdsa-521", "ecdsa-sha2-nistp521", 521),
    ("rsa-2048", "ssh-rsa", 2048),
    ("rsa-3072", "ssh-rsa", 3072),
]


@pytest.mark.parametrize(("kind", "key_type", "bits"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_each_accepted_key_type_is_read_with_its_type_and_size(kind, key_type, bits):
    line = _openssh_line(kind)

    parsed = parse_public_key(line)

    assert (parsed.key_type, parsed.normalized, parsed.comment, parsed.bits) == (
        key_type,
        line,
        "",
        bits,
    )


def test_a_security_key_ed25519_line_is_read():
    line = _sk_ed25519_line()

    parsed = parse_public_key(line + " yubikey")

    assert (parsed.key_type, parsed.normalized, parsed.comment, parsed.bits) == (
        "sk-ssh-ed25519@openssh.com",
        line,
        "yubikey",
        256,
    )


def test_a_security_key_ecdsa_line_is_read():
    line = _sk_ecdsa_line()

    parsed = parse_public_key(line)

    assert (parsed.key_type, parsed.normalized, parsed.bits) == (
        "sk-ecdsa-sha2-nistp256@openssh.com",
        line,
        256,
    )


def test_a_security_key_ecdsa_point_off_the_curve_is_refused():
    point = b"\x04" + b"\x01" * 64

    assert _refusal(_sk_ecdsa_line(point)) == UNREADABLE_KEY


def test_a_security_key_without_an_application_string_is_refused():
    raw = _private_key("ed25519").public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    assert _refusal(_line("sk-ssh-ed25519@openssh.com", raw)) == UNREADABLE_KEY


def test_surrounding_whitespace_crlf_and_a_comment_with_spaces_are_accepted():
    line = _openssh_line("ed25519")
    key_type, blob = line.split()

    parsed = parse_public_key(f"  \t{key_type} \t {blob}   Alice's laptop (work)  \r\n")

    assert (parsed.normalized, parsed.comment) == (line, "Alice's laptop (work)")


def test_a_long_comment_is_cut_to_100_characters():
    parsed = parse_public_key(_openssh_line("ed25519") + " " + "c" * 150)

    assert parsed.comment == "c" * 100


def test_the_fingerprint_of_a_stored_key_equals_the_one_parsed():
    parsed = parse_public_key(_openssh_line("ecdsa-384") + " comment")

    assert fingerprint_of(parsed.normalized) == parsed.fingerprint


def _accepted_line(kind):
    if kind == "sk-ed25519":
        return _sk_ed25519_line()
    if kind == "sk-ecdsa":
        return _sk_ecdsa_line()
    return _openssh_line(kind)


@pytest.fixture
def ssh_keygen():
    path = shutil.which("ssh-keygen")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("ssh-keygen is required in CI to check fingerprints (openssh-client)")
        pytest.skip("ssh-keygen is not installed")
    return path


@pytest.mark.parametrize("kind", [a[0] for a in ACCEPTED] + ["sk-ed25519", "sk-ecdsa"])
def test_fingerprint_and_size_equal_what_ssh_keygen_prints(kind, ssh_keygen, tmp_path):
    line = _accepted_line(kind)
    path = tmp_path / "key.pub"
    path.write_text(line + " someone@example\n")
    printed = subprocess.run(
        [ssh_keygen, "-lf", str(path)], capture_output=True, text=True, check=True
    ).stdout.split()

    parsed = parse_public_key(line)

    assert (str(parsed.bits), parsed.fingerprint) == (printed[0], printed[1])


@pytest.mark.parametrize("text", [None, b"ssh-ed25519 AAAA", 42, "", "   ", "\r\n\r\n"])
def test_no_text_is_refused_with_a_request_for_a_key(text):
    assert _refusal(text) == NO_KEY


def test_a_line_over_16_kib_is_refused_with_the_limit():
    text = _openssh_line("ed25519") + " " + "c" * MAX_LINE_BYTES

    assert _refusal(text) == "An SSH public key line is at most 16 KiB; this text is longer."


def test_the_size_limit_counts_utf8_bytes_not_characters():
    line = _openssh_line("ed25519") + " "
    text = line + "é" * ((MAX_LINE_BYTES - len(line)) // 2 + 1)
    assert len(text) < MAX_LINE_BYTES

    assert _refusal(text) == "An SSH public key line is at most 16 KiB; this text is longer."


@pytest.mark.parametrize(
    "inside",
    ["\x00", "\x1b[31m", "\r", "\u202e", "\ud800"],
    ids=["nul", "escape", "bare-cr", "bidi-override", "lone-surrogate"],
)
def test_control_characters_inside_the_line_are_refused_as_unreadable(inside):
    text = _openssh_line("ed25519") + f" alice{inside}laptop"

    assert _refusal(text) == (
        "This text contains control characters and cannot be read as an SSH key."
    )


def _private_key_texts():
    ed = _private_key("ed25519")
    ec_key = _private_key("ecdsa-256")
    rsa_key = _private_key("rsa-2048")
    return {
        "openssh": ed.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()),
        "pem-rsa": rsa_key.private_bytes(
            Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption()
        ),
        "pem-ec": ec_key.private_bytes(
            Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption()
        ),
        "pkcs8": ed.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()),
        "pkcs8-encrypted": ed.private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"passphrase")
        ),
    }


@pytest.mark.parametrize(
    "kind", ["openssh", "pem-rsa", "pem-ec", "pkcs8", "pkcs8-encrypted", "pem-dsa", "putty"]
)
def test_a_private_key_is_refused_without_quoting_any_of_it(kind):
    if kind == "pem-dsa":
        text = _private_key("dsa").private_bytes(
            Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption()
        )
    elif kind == "putty":
        text = (
            b"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: alice\n"
            b"Public-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAIOm\nPrivate-Lines: 1\nAAAAIJq0secret\n"
        )
    else:
        text = _private_key_texts()[kind]
    text = text.decode()

    message = _refusal(text)

    assert message == PRIVATE_KEY
    assert not [line for line in text.splitlines() if line.strip() and line in message]


def test_a_private_key_pasted_below_a_public_key_is_still_refused_as_private():
    private = _private_key_texts()["openssh"].decode()

    assert _refusal(_openssh_line("ed25519") + "\n" + private) == PRIVATE_KEY


def test_a_dsa_key_is_refused_with_a_message():
    line = _openssh_line("dsa")
    assert line.startswith("ssh-dss ")

    assert _refusal(line) == (
        "DSA keys are not accepted: OpenSSH disabled them; use an ed25519 key."
    )


def test_an_rsa_key_below_2048_bits_is_refused_with_its_size():
    assert _refusal(_openssh_line("rsa-1024")) == (
        "RSA keys must have at least 2048 bits; this one has 1024."
    )


def test_an_rsa_key_above_what_openssh_accepts_is_refused_with_its_size():
    # RFC 4251 §5 mpint: a leading zero byte keeps the modulus positive.
    modulus = b"\x00\xff" + b"\x01" * 2048
    line = _line("ssh-rsa", b"\x01\x00\x01", modulus)

    assert _refusal(line) == "RSA keys may have at most 16384 bits; this one has 16392."


@pytest.mark.parametrize("second", ["same", "other"])
def test_more_than_one_key_line_is_refused(second):
    first = _openssh_line("ed25519")
    other = first if second == "same" else _openssh_line("ecdsa-256")

    assert _refusal(f"{first}\r\n{other}\r\n") == (
        "Paste one SSH public key at a time; this text has more than one line."
    )


@pytest.mark.parametrize(
    "options",
    ['restrict,command="echo hello world"', "no-pty", 'from="10.0.0.0/8",no-agent-forwarding'],
)
def test_authorized_keys_options_before_the_key_are_refused(options):
    text = f"{options} {_openssh_line('ed25519')} alice"

    assert _refusal(text) == "Paste the key alone, without authorized_keys options."


def test_an_ssh2_public_key_file_is_refused_with_a_request_for_openssh_format():
    # RFC 4716 §3: what PuTTYgen saves as its public key.
    blob = _openssh_line("ed25519").split()[1]
    text = (
        f'---- BEGIN SSH2 PUBLIC KEY ----\nComment: "alice"\n{blob[:64]}\n{blob[64:]}\n'
        "---- END SSH2 PUBLIC KEY ----\n"
    )

    assert _refusal(text) == (
        "This public key is in SSH2 (RFC 4716) format. Paste it in OpenSSH format instead: "
        "one line starting with ssh-ed25519, ecdsa-sha2-... or ssh-rsa."
    )


def _garbage():
    blob = _openssh_line("ed25519").split()[1]
    return {
        "words": "hello world",
        "type-alone": "ssh-ed25519",
        "not-base64": "ssh-ed25519 !!!!",
        "stray-character-in-base64": f"ssh-ed25519 {blob[:20]}*{blob[20:]}",
        "bad-padding": _openssh_line("ecdsa-256").rstrip("="),
        "truncated-blob": f"ssh-ed25519 {blob[:40]}",
        "unknown-type": f"ssh-foo {blob}",
        "certificate-type": f"ssh-ed25519-cert-v01@openssh.com {blob}",
        "empty-blob": "ssh-ed25519 ====",
    }


@pytest.mark.parametrize("name", list(_garbage()))
def test_text_that_is_not_a_readable_key_is_refused(name):
    assert _refusal(_garbage()[name]) == UNREADABLE_KEY


@pytest.mark.parametrize(
    ("line_type", "blob_of"),
    [
        ("ssh-rsa", "ed25519"),
        ("ecdsa-sha2-nistp384", "ecdsa-256"),
        ("sk-ssh-ed25519@openssh.com", "ed25519"),
    ],
)
def test_a_blob_whose_inner_type_differs_from_the_line_is_refused(line_type, blob_of):
    blob = _openssh_line(blob_of).split()[1]

    assert _refusal(f"{line_type} {blob}") == UNREADABLE_KEY


def test_split_keys_returns_the_non_blank_lines_of_lf_or_crlf_text():
    first, second = _openssh_line("ed25519"), _sk_ecdsa_line()

    lines = split_keys(f"{first} alice\r\n\r\n  \n{second}\n")

    assert lines == [f"{first} alice", second]
    assert [parse_public_key(line).normalized for line in lines] == [first, second]
