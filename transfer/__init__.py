"""File-transfer access: SSH keys and app passwords that follow the identity provider,
and the login decisions file servers ask for (docs/transfer.md)."""
