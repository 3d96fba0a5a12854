"""Webhooks: Standard Webhooks signing, address rules, sending, and delivery attempts."""
