from django.urls import reverse


def test_login_page_offers_sign_in_with_sso(client):
    body = client.get(reverse("console:login")).content.decode()
    assert "Sign in with SSO" in body
    assert reverse("sso:signin") + "?next=/console/" in body
