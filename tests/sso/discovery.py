"""Where /signin/'s answer sends the browser once it found the organization.

The answer is a page, not a redirect (sso.views.portal._continue_to): its instant
refresh and its link both go to the organization's SSO login.
"""

from lxml import html


def discovery_target(response) -> str:
    """The URL the continuing page goes on to; fails unless refresh and link agree."""
    assert response.status_code == 200
    assert "Location" not in response
    document = html.fromstring(response.content)
    (refresh,) = document.xpath('//head/meta[@http-equiv="refresh"]/@content')
    delay, _, target = refresh.partition(";url=")
    assert delay == "0"
    assert document.xpath("//main//a/@href") == [target]
    return target
