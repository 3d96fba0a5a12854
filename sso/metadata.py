"""IdP metadata in: parsed with python3-saml's parser, fetched with our own client.

python3-saml's `parse_remote` uses urlopen (file:// and any address allowed), so
fetching is done here: https only, no redirects, a timeout, a size cap and no
private, loopback or link-local addresses (the connection is pinned to the address
that was checked, so DNS cannot rebind it in between).
"""

import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from lxml import etree
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.xmlparser import DTDForbidden, EntitiesForbidden

from sso.errors import MetadataError

MAX_METADATA_BYTES = 1024 * 1024
FETCH_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class IdpMetadata:
    entity_id: str
    sso_url: str
    slo_url: str = ""
    certificates: list[str] = field(default_factory=list)
    sign_authn_requests: bool = False

    def as_fields(self) -> dict:
        return {
            "entity_id": self.entity_id,
            "sso_url": self.sso_url,
            "slo_url": self.slo_url,
            "certificates": list(self.certificates),
            "sign_authn_requests": self.sign_authn_requests,
        }


def parse_idp_metadata(metadata_xml: str | bytes) -> IdpMetadata:
    """Only the IdP part of the metadata: the parser's `sp` and other SP settings are dropped."""
    if isinstance(metadata_xml, str):
        metadata_xml = metadata_xml.encode()
    metadata_xml = metadata_xml.strip()
    if not metadata_xml:
        raise MetadataError("The metadata is empty.")
    if len(metadata_xml) > MAX_METADATA_BYTES:
        raise MetadataError("The metadata is larger than 1 MiB.")
    try:
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(metadata_xml)
    except (DTDForbidden, EntitiesForbidden):
        raise MetadataError("The metadata contains a DTD or entities, which are refused.") from None
    except (etree.XMLSyntaxError, ValueError):
        raise MetadataError("The metadata is not well-formed XML.") from None
    idp = parsed.get("idp")
    if not idp:
        raise MetadataError(
            "The metadata has no IDPSSODescriptor: paste the identity provider's metadata, "
            "not a service provider's."
        )
    if not idp.get("entityId"):
        raise MetadataError("The metadata's EntityDescriptor has no entityID.")
    sso_url = idp.get("singleSignOnService", {}).get("url", "")
    if not sso_url:
        raise MetadataError(
            "The metadata has no SingleSignOnService with the HTTP-Redirect binding."
        )
    multi = idp.get("x509certMulti", {})
    certificates = multi.get("signing") or ([idp["x509cert"]] if idp.get("x509cert") else [])
    if not certificates:
        raise MetadataError("The metadata has no signing certificate (KeyDescriptor use=signing).")
    return IdpMetadata(
        entity_id=idp["entityId"],
        sso_url=sso_url,
        slo_url=idp.get("singleLogoutService", {}).get("url", ""),
        certificates=certificates,
        sign_authn_requests=parsed.get("security", {}).get("authnRequestsSigned", False),
    )


def _public_address(host: str, port: int) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise MetadataError(f"The metadata host {host!r} cannot be resolved.") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if not address.is_global or address.is_multicast:
            raise MetadataError(
                "The metadata URL points to a private or reserved address, which is refused."
            )
    return str(addresses[0])


def fetch_idp_metadata(url: str) -> bytes:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise MetadataError("The metadata URL must be an https:// URL.")
    port = parts.port or 443
    address = _public_address(parts.hostname, port)
    netloc = f"[{address}]" if ":" in address else address
    pinned = parts._replace(netloc=f"{netloc}:{port}").geturl()
    headers = {"Host": parts.netloc, "Accept": "application/samlmetadata+xml, text/xml"}
    try:
        with httpx.stream(
            "GET",
            pinned,
            headers=headers,
            timeout=FETCH_TIMEOUT_SECONDS,
            follow_redirects=False,
            # TLS is verified against the real host name, not the pinned address.
            extensions={"sni_hostname": parts.hostname},
        ) as response:
            if response.is_redirect:
                raise MetadataError("The metadata URL redirects; give the final URL.")
            if response.status_code != 200:
                raise MetadataError(f"The metadata URL answered HTTP {response.status_code}.")
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > MAX_METADATA_BYTES:
                    raise MetadataError("The metadata is larger than 1 MiB.")
            return bytes(body)
    except httpx.HTTPError as exc:
        raise MetadataError(
            f"The metadata URL could not be fetched ({type(exc).__name__})."
        ) from None
