from django.conf import settings
from django.core.management.base import BaseCommand
from django.db.models import Count

from accounts.events.models import ApiKey
from provisioning.models import ProvisioningToken
from provisioning.tokens import LEGACY_KEY_ID


def _live_counts(queryset) -> dict[str, int]:
    rows = queryset.values("key_id").annotate(n=Count("id")).order_by()
    return {row["key_id"]: row["n"] for row in rows}


class Command(BaseCommand):
    help = (
        "Count the live provisioning tokens and API keys per hash key id, so a key of "
        "TOKEN_HASH_KEYS is retired only once nothing live still uses it."
    )

    def handle(self, *args, **options):
        tokens = _live_counts(ProvisioningToken.objects.live())
        api_keys = _live_counts(ApiKey.objects.live())
        configured = [key_id for key_id, _ in settings.TOKEN_HASH_KEYS]
        roles = {key_id: "verifies" for key_id in configured} | {configured[0]: "current"}
        roles[LEGACY_KEY_ID] = "verifies (issued before key ids)"
        self.stdout.write(f"{'key id':<34}{'tokens':>8}{'api keys':>10}  state")
        for key_id in [*configured, *sorted((tokens.keys() | api_keys.keys()) - set(configured))]:
            state = roles.get(key_id, "not configured: refused")
            self.stdout.write(
                f"{key_id:<34}{tokens.get(key_id, 0):>8}{api_keys.get(key_id, 0):>10}  {state}"
            )
