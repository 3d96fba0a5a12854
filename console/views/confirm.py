"""The confirmation page before a destructive POST: a page of its own, no JavaScript."""

from django.shortcuts import render


def confirmation(
    request,
    *,
    nav: str,
    heading: str,
    facts: list[tuple[str, str]],
    warning: str,
    button: str,
    cancel_url: str,
    gone: str = "",
):
    """GET of a revoke or remove URL; its POST does it. `gone`: the heading to show
    instead when there is nothing left to do (already revoked)."""
    return render(
        request,
        "console/_confirm.html",
        {
            "nav": nav,
            "heading": gone or heading,
            "gone": bool(gone),
            "facts": facts,
            "warning": warning,
            "button": button,
            "cancel_url": cancel_url,
        },
    )
