"""Local providers for the campaign channels, speaking their protocols over real sockets: an HTTP
SMS provider (sms.py), an SMTP server (smtp.py, on aiosmtpd) and a webhook receiver that checks
signatures (webhook.py). Tests start them in-process; the demo runs them with
`python -m campaigns.fake.sms`, `python -m campaigns.fake.smtp` and `python -m campaigns.fake.webhook`.
No Django in them."""
