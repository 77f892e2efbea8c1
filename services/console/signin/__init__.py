"""Signing in and out: the development sign-in page, OpenID Connect, cookie sessions, CSRF."""
