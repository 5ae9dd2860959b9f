"""`mnemo mcp`'s settings refuse, at start, a key or gateway URL no request can carry,
with a message that names the variable and never quotes the key or a password."""

import pytest

from mnemo.gateway.mcp.settings import McpStdioSettings
from mnemo.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"MNEMO_API_KEY": "mk_secret\u00e9"}, "MNEMO_API_KEY"),
        ({"MNEMO_API_KEY": "mk_secret\n"}, "MNEMO_API_KEY"),
        # httpx would send user:password as Basic credentials in place of the Bearer key.
        ({"MNEMO_GATEWAY_URL": "http://user:secret@127.0.0.1:8080"}, "user or password"),
        ({"MNEMO_GATEWAY_URL": "http://[::1"}, "not a URL"),
        ({"MNEMO_GATEWAY_URL": "http://"}, "with a host"),
        ({"MNEMO_GATEWAY_URL": "ftp://127.0.0.1"}, "http://"),
    ],
)
def test_what_no_request_can_carry_is_refused_at_start(env, said):
    with pytest.raises(SettingsError, match=said) as refused:
        load_settings(McpStdioSettings, {"MNEMO_API_KEY": "mk_fine", **env})
    assert "secret" not in str(refused.value)


def test_a_plain_url_and_key_are_taken():
    settings = load_settings(
        McpStdioSettings, {"MNEMO_GATEWAY_URL": "https://mnemo.example/", "MNEMO_API_KEY": "ak_1"}
    )
    assert (settings.url, settings.api_key) == ("https://mnemo.example/", "ak_1")
