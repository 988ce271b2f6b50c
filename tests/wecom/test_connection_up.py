"""`up` and the local WeCom server: started (with credentials made up for the run, passed to every
process) only when none of the corp's settings is given; its command line and callback URL."""

from __future__ import annotations

import base64
import os
from io import StringIO

import pytest

from scrm.management.commands import up
from wecom.crypto import CallbackCrypto


def test_any_corp_setting_means_a_real_corp():
    assert not up.wecom_configured({})
    assert not up.wecom_configured({"WECOM_CORP_ID": "", "WECOM_API_BASE": "http://x", "WECOM_AGENT_ID": "1"})
    for name in up.WECOM_CREDENTIALS:
        assert up.wecom_configured({name: "x"})


def test_credentials_are_made_up_per_run_and_valid():
    one, two = up.local_wecom_env("127.0.0.1", 9100), up.local_wecom_env("127.0.0.1", 9100)
    assert one["WECOM_API_BASE"] == "http://127.0.0.1:9100"
    assert set(one) == {"WECOM_API_BASE", *up.WECOM_CREDENTIALS}
    for name in up.WECOM_CREDENTIALS:
        assert one[name] and one[name] != two[name]
    assert one["WECOM_CORP_ID"].startswith("ww")
    assert len(one["WECOM_AES_KEY"]) == 43 and len(base64.b64decode(one["WECOM_AES_KEY"] + "=")) == 32
    crypto = CallbackCrypto(token=one["WECOM_TOKEN"], aes_key=one["WECOM_AES_KEY"], corp_id=one["WECOM_CORP_ID"])
    assert crypto is not None


def test_the_server_command_line():
    cmd = up.wecom_server_command(
        "py", "127.0.0.1", 9100, callback_url="http://127.0.0.1:8000/wecom/callback/", staff=["sh01_manager", "b"]
    )
    assert cmd[:3] == ["py", "manage.py", "wecom_server"]
    assert cmd[cmd.index("--port") + 1] == "9100" and cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--callback-url") + 1] == "http://127.0.0.1:8000/wecom/callback/"
    assert cmd[cmd.index("--staff") + 1] == "sh01_manager,b"
    assert "--staff" not in up.wecom_server_command("py", "h", 1, callback_url="u", staff=[])
    # No secret on the command line (process lists are public): they travel in the environment.
    assert not [part for part in cmd if "secret" in part.lower()]


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000/wecom/callback/"),
        ("0.0.0.0", "http://127.0.0.1:8000/wecom/callback/"),
        ("::", "http://127.0.0.1:8000/wecom/callback/"),
        ("siyu.local", "http://siyu.local:8000/wecom/callback/"),
    ],
)
def test_callbacks_go_to_the_web_apps_callback_url(host, url):
    assert up.local_callback_url(host, 8000) == url


def test_free_port_is_bindable():
    import socket

    port = up.free_port("127.0.0.1")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


def test_with_a_corp_configured_no_local_server_starts():
    out = StringIO()
    command = up.Command(stdout=out)
    supervisor = up.Supervisor(out)
    assert command._start_local_wecom(supervisor, {"WECOM_CORP_ID": "ww1"}, "127.0.0.1", 8000) == {}
    assert supervisor.procs == {}
    assert "not started" in out.getvalue()


@pytest.mark.django_db
def test_demo_staff_are_the_store_staff(alice, bob, carol, dave):
    assert up.demo_staff_usernames() == sorted([bob.username, carol.username, dave.username])


def test_env_is_not_changed_by_planning():
    before = dict(os.environ)
    up.local_wecom_env("127.0.0.1", 1)
    assert dict(os.environ) == before


@pytest.mark.django_db
def test_without_a_corp_the_local_server_runs_with_the_runs_credentials(settings, monkeypatch, bob, carol):
    import httpx

    settings.WECOM_CORP_ID = ""  # settings written below are undone with this fixture's
    for name in ("WECOM_API_BASE", *up.WECOM_CREDENTIALS):
        monkeypatch.setenv(name, "")  # so monkeypatch puts the environment back as it was
        monkeypatch.delenv(name)
    out = StringIO()
    supervisor = up.Supervisor(out)
    try:
        env = up.Command(stdout=out)._start_local_wecom(supervisor, dict(os.environ), "0.0.0.0", 8123)
        assert set(env) == {"WECOM_API_BASE", *up.WECOM_CREDENTIALS}
        assert "wecom" in supervisor.procs
        assert "local WeCom server runs at" in out.getvalue()
        assert env["WECOM_SECRET"] not in out.getvalue()
        # This process (which seeds the demo) and the children's environment point at it.
        assert settings.WECOM_API_BASE == env["WECOM_API_BASE"] == os.environ["WECOM_API_BASE"]
        answer = httpx.get(
            f"{env['WECOM_API_BASE']}/cgi-bin/gettoken",
            params={"corpid": env["WECOM_CORP_ID"], "corpsecret": env["WECOM_SECRET"]},
        ).json()
        assert answer["errcode"] == 0 and answer["access_token"]
        from wecom.client import get_client

        staff = get_client().get("externalcontact/get_follow_user_list")["follow_user"]
        assert sorted(staff) == sorted([bob.username, carol.username])
        state = httpx.get(f"{env['WECOM_API_BASE']}/_fake/state").json()
        assert state["callbacks"]["url"] == "http://127.0.0.1:8123/wecom/callback/"
    finally:
        supervisor.stop_all(order=["wecom"])
    assert supervisor.procs["wecom"].poll() is not None
