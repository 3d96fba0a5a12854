"""The forms of the person's File transfer page; the services check the values."""

from datetime import datetime, time

from django import forms
from django.utils import timezone

from transfer.services import LABEL_MAX_LENGTH


class UnechoedTextarea(forms.Textarea):
    """A textarea that never sends its value back to the page: a refused paste may be a
    private key, and it must not travel back in the HTML (nor sit in a browser's cache)."""

    def format_value(self, value):
        return None


class SshKeyAddForm(forms.Form):
    prefix = "key"  # Both forms have a label field; one page holds both.

    label = forms.CharField(
        label="Label",
        max_length=LABEL_MAX_LENGTH,
        required=False,
        help_text="Which computer this key is on, e.g. “Work laptop”. "
        "Left empty, the key's comment is used.",
    )
    public_key = forms.CharField(
        label="Public key",
        widget=UnechoedTextarea({"rows": 4, "spellcheck": "false", "autocomplete": "off"}),
        help_text="The one line of your .pub file, e.g. ~/.ssh/id_ed25519.pub: "
        "it starts with ssh-ed25519, ecdsa-sha2-… or ssh-rsa.",
        strip=False,
    )


class AppPasswordCreateForm(forms.Form):
    prefix = "password"

    label = forms.CharField(
        label="Label",
        max_length=LABEL_MAX_LENGTH,
        help_text="Where you will use it, e.g. “FileZilla on my desktop”.",
    )
    expires_on = forms.DateField(
        label="Expiry date (optional)",
        required=False,
        widget=forms.DateInput({"type": "date"}),
        help_text="It stops working at the start of this day, UTC. "
        "Your organization may require one.",
    )

    def clean(self):
        cleaned = super().clean()
        day = cleaned.get("expires_on")
        cleaned["expires_at"] = (
            timezone.make_aware(datetime.combine(day, time.min)) if day else None
        )
        return cleaned
