"""Screens of the WeCom connector (flat names, included at the site root), one module per part."""

from wecom.views import callbacks, channels, connection, groups, handovers, sidebar, sync

urlpatterns = [
    *connection.urlpatterns,
    *sync.urlpatterns,
    *callbacks.urlpatterns,
    *channels.urlpatterns,
    *handovers.urlpatterns,
    *groups.urlpatterns,
    *sidebar.urlpatterns,
]
