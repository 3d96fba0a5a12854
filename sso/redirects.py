from django.utils.http import url_has_allowed_host_and_scheme


def safe_local_path(target: str | None) -> str:
    """`target` if it is a path on this site ("/..."), else "" (never another host)."""
    target = (target or "").strip()
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts=None, require_https=False):
        return ""
    return target
