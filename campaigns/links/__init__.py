"""Short links with click tracking: every http(s) link in a campaign's text becomes a ShortLink when
the campaign starts sending, each recipient gets it as `{SIYU_PUBLIC_URL}/l/<code>/<token>` (the
token names the member, signed), and following it records a Click before the redirect."""
