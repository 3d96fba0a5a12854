"""Password sign-in limits that stop guessing without locking an office out.

Two counters of failed attempts, for the console's and the operations admin's sign-in:

- per account (CONSOLE_LOGIN_RATE, 10 per 5 minutes): one guesser on one account, or
  one person's typos;
- per client address (CONSOLE_LOGIN_ADDRESS_RATE, 50 per 5 minutes): one guesser trying
  many accounts. A company's people reach Roster from one NAT address, so this one is
  higher, and an attempt its account's limit already refused is not counted here: one
  person retrying cannot lock their colleagues out.

An attempt is counted before the password is checked, so that parallel attempts cannot
all pass under the limit, and given back when the password was right: people who sign
in are never counted.
"""

from dataclasses import dataclass

from django.conf import settings

from config import ratelimit


def _account_rate() -> ratelimit.Rate:
    return ratelimit.Rate.parse(settings.CONSOLE_LOGIN_RATE)


def _address_rate() -> ratelimit.Rate:
    return ratelimit.Rate.parse(settings.CONSOLE_LOGIN_ADDRESS_RATE)


@dataclass(frozen=True)
class PasswordAttempt:
    # The counters' scopes (also the metric's `limit` label), then what they count by.
    account_scope: str
    address_scope: str
    account: str
    address: str

    def begin(self) -> ratelimit.Verdict:
        """Count the attempt; a refused verdict means answer 429 without checking."""
        by_account = ratelimit.hit(self.account_scope, self.account, _account_rate())
        if not by_account.allowed:
            return by_account
        by_address = ratelimit.hit(self.address_scope, self.address, _address_rate())
        if not by_address.allowed:
            # Not checked, so not a failure of this account.
            ratelimit.refund(self.account_scope, self.account, _account_rate())
        return by_address

    def succeeded(self) -> None:
        """The password was right: give the attempt back to both counters."""
        ratelimit.refund(self.account_scope, self.account, _account_rate())
        ratelimit.refund(self.address_scope, self.address, _address_rate())
