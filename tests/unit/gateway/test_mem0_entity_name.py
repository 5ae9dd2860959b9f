"""A Mem0 entity's name in `DELETE /v2/entities/{type}/{name}/` is read from the raw path
as the client sent it: the router's path has `//` collapsed and `/` stripped at either
end (deleting user `erin/` forgot `erin`), and `%2F` decoded."""

import pytest

from mnemo.gateway.compat.mem0_entities import entity_name


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        (b"/v2/entities/user/alice/", "alice"),
        (b"/v2/entities/user/alice", "alice"),
        (b"/v2/entities/user/alice//", "alice/"),
        (b"/v2/entities/user//alice/", "/alice"),
        (b"/v2/entities/run/a//b/", "a//b"),
        (b"/mem0/v2/entities/run/team%2Fx/", "team/x"),
        (b"/v2/entities/user/caf%C3%A9/", "caf\u00e9"),
        ("/v2/entities/user/caf\u00e9/".encode(), "caf\u00e9"),
    ],
)
def test_the_name_is_the_rest_of_the_raw_path_less_one_slash(raw, name):
    assert entity_name({"raw_path": raw}, "routed") == name


def test_without_a_raw_path_the_routed_name_is_taken():
    assert entity_name({}, "/alice") == "alice"
