"""The one client for WeCom's server API: ``get_client()`` and the error kinds in ``errors``.

from wecom.client import get_client, errors
data = get_client().get("externalcontact/get", params={"external_userid": x})
"""

from wecom.client import errors


def get_client():
    """The process's client for the configured corp (rebuilt when the WECOM_* settings change)."""
    from wecom.client.http import get_client as _get_client

    return _get_client()


__all__ = ["errors", "get_client"]
