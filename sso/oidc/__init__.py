"""OpenID Connect, relying party side: the protocol without models or views.

fetch: requests to a provider (checked addresses, a deadline, capped bodies).
discovery: a provider's metadata (OpenID Connect Discovery 1.0).
jwks: the provider's signing keys, cached for every worker.
tokens: ID token and logout token validation.
flow: the authorization code flow with PKCE, userinfo and RP-initiated logout.
keys: this service's own keys for private_key_jwt.
"""
