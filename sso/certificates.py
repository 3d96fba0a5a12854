"""X.509 certificates: IdP signing certificates in, the SP's self-signed pair out."""

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from sso.errors import MetadataError

SP_KEY_BITS = 2048
SP_CERTIFICATE_DAYS = 730
MIN_RSA_BITS = 2048

_PEM_BODY = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL)


@dataclass(frozen=True)
class CertificateInfo:
    pem: str
    subject: str
    not_after: dt.datetime
    sha256_fingerprint: str


def _load(text: str) -> x509.Certificate:
    """One certificate from PEM or from the bare base64 body that metadata carries."""
    text = (text or "").strip()
    match = _PEM_BODY.search(text)
    body = "".join((match.group(1) if match else text).split())
    try:
        der = base64.b64decode(body, validate=True)
        return x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError):
        raise MetadataError("A certificate is not a valid X.509 certificate (PEM).") from None


def split_pem_bundle(text: str) -> list[str]:
    """The certificates of a pasted PEM bundle, or the text itself if it has no PEM markers."""
    bodies = _PEM_BODY.findall(text)
    if not bodies:
        return [text]
    return [f"-----BEGIN CERTIFICATE-----{body}-----END CERTIFICATE-----" for body in bodies]


# RFC 4514 names only a handful of attribute types; OpenSSL's names for the others are
# what Okta and Entra show (every Okta signing certificate carries an emailAddress).
_SUBJECT_NAMES = {NameOID.EMAIL_ADDRESS: "emailAddress"}


def subject_of(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string(_SUBJECT_NAMES)


def to_pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def describe(text: str) -> CertificateInfo:
    certificate = _load(text)
    return CertificateInfo(
        pem=to_pem(certificate),
        subject=subject_of(certificate),
        not_after=certificate.not_valid_after_utc,
        sha256_fingerprint=certificate.fingerprint(hashes.SHA256()).hex(":").upper(),
    )


def clean_idp_certificate(text: str, *, now: dt.datetime) -> str:
    """The certificate as normalized PEM, or MetadataError saying why it is unusable."""
    certificate = _load(text)
    not_after = certificate.not_valid_after_utc
    if not_after <= now:
        raise MetadataError(
            f"The IdP certificate {subject_of(certificate)} expired on "
            f"{not_after:%Y-%m-%d %H:%M} UTC; download the current one from the IdP."
        )
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise MetadataError(
            f"The IdP certificate uses a {key.key_size}-bit RSA key; at least "
            f"{MIN_RSA_BITS} bits are required."
        )
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise MetadataError("The IdP certificate must carry an RSA or EC public key.")
    return to_pem(certificate)


def generate_sp_key_pair(*, common_name: str, now: dt.datetime) -> tuple[bytes, str, dt.datetime]:
    """(private key PEM, self-signed certificate PEM, not_after): RSA, SHA-256, 2 years."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=SP_KEY_BITS)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    not_after = now + dt.timedelta(days=SP_CERTIFICATE_DAYS)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return private_pem, to_pem(certificate), certificate.not_valid_after_utc


def certificate_expiries(idp) -> list[CertificateInfo]:
    """Each IdP signing certificate with its `not_after`, soonest expiry first."""
    return sorted((describe(pem) for pem in idp.certificates), key=lambda info: info.not_after)


def usable_certificates(idp, *, now: dt.datetime) -> list[str]:
    """The IdP certificates that have not expired: an expired one verifies nothing."""
    return [info.pem for info in certificate_expiries(idp) if info.not_after > now]
