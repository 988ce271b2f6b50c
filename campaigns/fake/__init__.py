"""Local providers for the campaign channels, speaking their protocols over real sockets: an HTTP
SMS provider (sms.py), an SMTP server (smtp.py, on aiosmtpd) and a webhook receiver that checks
signatures (webhook.py). Tests start them in-process; the demo runs them with
`python -m campaigns.fake.sms` and `python -m campaigns.fake.smtp`. No Django in them."""
