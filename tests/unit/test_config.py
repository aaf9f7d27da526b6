# SPDX-License-Identifier: Apache-2.0
"""TOML configuration: loading, defaults and every validation error."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from pqike.config import (
    DEMO_PSK,
    ChildConfig,
    ConnectionConfig,
    EndpointConfig,
    Identity,
    KeylogFile,
    TrafficSelector,
    check_backend,
    defaults,
    demo_pair,
    load,
    loads,
)
from pqike.errors import ConfigError
from pqike.proposals import parse_proposal

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def to_toml(data: dict[str, Any], prefix: str = "") -> str:
    """A tiny TOML writer, enough for these tests (tables become [a.b] headers)."""
    lines = [
        f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)
    ]
    for key, value in data.items():
        if isinstance(value, dict):
            name = f"{prefix}.{json.dumps(key)}" if prefix else json.dumps(key)
            lines += [f"\n[{name}]", to_toml(value, name)]
    return "\n".join(lines)


BASE: dict[str, Any] = {
    "listen": ["127.0.0.1"],
    "port": 5000,
    "natt_port": 5001,
    "connections": {
        "site-a": {
            "remote_addrs": ["127.0.0.2"],
            "local_id": "fqdn:a.pq.test",
            "remote_id": "fqdn:b.pq.test",
            "psk": "correct horse battery staple",
            "ike_proposals": ["aes256gcm16-prfsha384-x25519-ke1_mlkem768"],
            "children": {
                "net": {
                    "local_ts": ["10.1.0.0/24"],
                    "remote_ts": ["10.2.0.0/24"],
                    "esp_proposals": ["aes256gcm16"],
                }
            },
        }
    },
}


def _with(path: str, value: Any) -> dict[str, Any]:
    """BASE with one dotted path set (value _DEL removes it)."""
    data = copy.deepcopy(BASE)
    *parents, last = path.split("/")
    node = data
    for part in parents:
        node = node[part]
    if value is _DEL:
        del node[last]
    else:
        node[last] = value
    return data


_DEL = object()
CONN = "connections/site-a"
CHILD = "connections/site-a/children/net"


def test_load_base_config() -> None:
    config = loads(to_toml(BASE))
    assert config.listen == (("127.0.0.1", 5000),)
    assert (config.port, config.natt_port) == (5000, 5001)
    conn = config.connections["site-a"]
    assert conn.name == "site-a"
    assert conn.local_addrs == ("127.0.0.1",)
    assert conn.remote_addrs == ("127.0.0.2",)
    assert conn.remote_port == 500
    assert conn.remote_natt_port == 4500
    assert conn.local_id == Identity(2, b"a.pq.test")
    assert conn.psk == b"correct horse battery staple"
    assert conn.ike_proposals == (
        parse_proposal("aes256gcm16-prfsha384-x25519-ke1_mlkem768", "ike"),
    )
    (child,) = conn.children
    assert child.name == "net"
    assert child.mode == "tunnel"
    assert child.replay_window == 64
    assert child.local_ts == (TrafficSelector.parse("10.1.0.0/24"),)


def test_defaults_for_optional_keys() -> None:
    data = _with(f"{CONN}/ike_proposals", _DEL)
    del data["connections"]["site-a"]["children"]["net"]["esp_proposals"]
    del data["connections"]["site-a"]["children"]["net"]["local_ts"]
    config = loads(to_toml(data))
    conn = config.connections["site-a"]
    assert str(conn.ike_proposals[0]) == "aes256gcm16-prfsha384-x25519-ke1_mlkem768"
    assert str(conn.children[0].esp_proposals[0]) == "aes256gcm16"
    assert [str(ts) for ts in conn.children[0].local_ts] == ["0.0.0.0/0", "::/0"]
    assert conn.fragment_size == 1280
    assert conn.retransmit_tries == 5
    assert conn.keylog is None


def test_psk_is_hidden_from_repr() -> None:
    config = loads(to_toml(BASE))
    assert "horse" not in repr(config)
    assert "horse" not in repr(config.connections["site-a"])
    assert "psk" not in repr(config.connections["site-a"])


def test_psk_hex_inline() -> None:
    config = loads(to_toml(_with(f"{CONN}/psk", "0x00ff10")))
    assert config.connections["site-a"].psk == b"\x00\xff\x10"


def test_psk_from_file_relative_to_config(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("from a file\n")
    data = _with(f"{CONN}/psk", _DEL)
    data["connections"]["site-a"]["psk_file"] = "secret.txt"
    path = tmp_path / "c.toml"
    path.write_text(to_toml(data))
    assert load(path).connections["site-a"].psk == b"from a file"


def test_psk_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PQIKE_TEST_PSK", "from the environment")
    data = _with(f"{CONN}/psk", _DEL)
    data["connections"]["site-a"]["psk_env"] = "PQIKE_TEST_PSK"
    assert loads(to_toml(data)).connections["site-a"].psk == b"from the environment"


def test_remote_any_and_keylog(tmp_path: Path) -> None:
    data = _with(f"{CONN}/remote_addrs", ["%any"])
    data["connections"]["site-a"]["keylog"] = "keys.log"
    conn = loads(to_toml(data), tmp_path).connections["site-a"]
    assert conn.remote_addrs == ()
    assert conn.keylog == KeylogFile(tmp_path / "keys.log")
    assert conn.keylog is not None
    conn.keylog("row 1")
    assert (tmp_path / "keys.log").read_text() == "row 1\n"


def test_keylog_file_is_created_owner_only(tmp_path: Path) -> None:
    keylog = KeylogFile(tmp_path / "keys.log")
    keylog("row 1")
    keylog("row 2")
    assert (tmp_path / "keys.log").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "keys.log").read_text() == "row 1\nrow 2\n"


def _error(data: dict[str, Any], base_dir: Path | str = ".") -> ConfigError:
    with pytest.raises(ConfigError) as info:
        loads(to_toml(data), base_dir)
    return info.value


F = "connections.site-a"
C = "connections.site-a.children.net"


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        ("listen", ["localhost"], "listen[0]", "not an IP address"),
        ("listen", [], "listen", "at least one"),
        ("listen", "127.0.0.1", "listen", "list of strings"),
        ("listen", [1], "listen[0]", "must be a string"),
        ("listen", ["%any"], "listen[0]", 'use "0.0.0.0" and/or "::" to listen'),
        ("listen", ["127.0.0.1", "%any"], "listen[1]", "%any is not an address"),
        (
            "listen",
            ["0.0.0.0", "127.0.0.1"],
            "listen[1]",
            "127.0.0.1 overlaps listen[0] (0.0.0.0): the wildcard 0.0.0.0 already "
            "takes port and natt_port on every IPv4 address",
        ),
        ("listen", ["::1", "::"], "listen[1]", "overlaps listen[0] (::1)"),
        ("listen", ["::1", "127.0.0.1", "::1"], "listen[2]", "twice (also listen[0])"),
        ("listen", ["::ffff:127.0.0.1"], "listen[0]", "mapped IPv6 address, which"),
        ("port", 70000, "port", "1..65535"),
        ("port", 0, "port", "1..65535"),
        ("port", "500", "port", "an integer"),
        ("port", True, "port", "an integer"),
        ("natt_port", 5000, "natt_port", "differ"),
        ("cookie_threshold", -1, "cookie_threshold", "0.."),
        ("half_open_limit", 0, "half_open_limit", "1.."),
        ("receive_buffer", -1, "receive_buffer", "0.."),
        ("receive_buffer", 1 << 31, "receive_buffer", "0..1073741824"),
        ("bogus", 1, "bogus", "unknown key"),
        ("connections", {}, "connections", "at least one connection"),
        ("connections", 3, "connections", "a table"),
        ("connections/site-b", 3, "connections.site-b", "a table"),
        (f"{CONN}/local_addrs", ["10.0.0.300"], f"{F}.local_addrs[0]", "not an IP"),
        (f"{CONN}/remote_addrs", ["x"], f"{F}.remote_addrs[0]", "not an IP"),
        (f"{CONN}/remote_port", 0, f"{F}.remote_port", "1..65535"),
        (f"{CONN}/remote_natt_port", 65536, f"{F}.remote_natt_port", "1..65535"),
        (f"{CONN}/local_id", _DEL, f"{F}.local_id", "required"),
        (f"{CONN}/remote_id", "", f"{F}.remote_id", "empty"),
        (f"{CONN}/remote_id", "ipv4:::1", f"{F}.remote_id", "not an IPv4"),
        (f"{CONN}/local_id", "keyid:#zz", f"{F}.local_id", "not hex"),
        (f"{CONN}/local_id", "C=CH, O=pq, CN=a", f"{F}.local_id", "distinguished"),
        (f"{CONN}/psk", _DEL, f"{F}.psk", "exactly one"),
        (f"{CONN}/psk_env", "X", f"{F}.psk", "psk, psk_env"),
        (f"{CONN}/psk", "", f"{F}.psk", "empty"),
        (f"{CONN}/psk", "0xabc", f"{F}.psk", "not hex"),
        (f"{CONN}/psk", 12, f"{F}.psk", "a string"),
        (f"{CONN}/ike_proposals", [], f"{F}.ike_proposals", "not be empty"),
        (
            f"{CONN}/ike_proposals",
            ["aes256gcm16-prfsha384-x25519", "aes256gcm16-x25519-ke1_bad"],
            f"{F}.ike_proposals[1]",
            "'ke1_bad'",
        ),
        (f"{CONN}/ike_proposals", ["aes256gcm16"], f"{F}.ike_proposals[0]", "PRF"),
        (f"{CONN}/fragment_size", 100, f"{F}.fragment_size", "576..65535"),
        (f"{CONN}/force_encap", 1, f"{F}.force_encap", "true or false"),
        (f"{CONN}/retransmit_timeout", 0, f"{F}.retransmit_timeout", ">= 0.01"),
        (f"{CONN}/retransmit_timeout", "4", f"{F}.retransmit_timeout", "a number"),
        (f"{CONN}/retransmit_tries", 101, f"{F}.retransmit_tries", "0..100"),
        (f"{CONN}/retransmit_base", 0.5, f"{F}.retransmit_base", ">= 1.0"),
        (f"{CONN}/dpd_delay", -1, f"{F}.dpd_delay", ">= 0.0"),
        (
            f"{CONN}/retransmit_timeout",
            float("nan"),
            f"{F}.retransmit_timeout",
            "finite",
        ),
        (
            f"{CONN}/retransmit_timeout",
            float("inf"),
            f"{F}.retransmit_timeout",
            "finite",
        ),
        (f"{CONN}/retransmit_base", float("nan"), f"{F}.retransmit_base", "finite"),
        (f"{CONN}/retransmit_base", float("inf"), f"{F}.retransmit_base", "finite"),
        (f"{CONN}/dpd_delay", float("nan"), f"{F}.dpd_delay", "finite"),
        (f"{CONN}/dpd_delay", float("inf"), f"{F}.dpd_delay", "finite"),
        (f"{CONN}/local_id", "x" * 65528, f"{F}.local_id", "at most 65527"),
        (f"{CONN}/remote_id", "a@" + "x" * 65600, f"{F}.remote_id", "ID payload"),
        (
            f"{CHILD}/local_ts",
            [f"10.0.{n // 256}.{n % 256}" for n in range(256)],
            f"{C}.local_ts",
            "at most 255 selectors",
        ),
        (
            f"{CHILD}/remote_ts",
            [f"10.0.{n // 256}.{n % 256}" for n in range(300)],
            f"{C}.remote_ts",
            "at most 255 selectors",
        ),
        (
            f"{CONN}/ike_proposals",
            ["aes256gcm16-prfsha384-x25519"] * 256,
            f"{F}.ike_proposals",
            "at most 255 proposals",
        ),
        (
            f"{CHILD}/esp_proposals",
            ["aes256gcm16"] * 300,
            f"{C}.esp_proposals",
            "at most 255 proposals",
        ),
        (f"{CONN}/keylog", 1, f"{F}.keylog", "a string"),
        (f"{CONN}/typo", 1, f"{F}.typo", "unknown key"),
        (f"{CONN}/children", 1, f"{F}.children", "a table"),
        (f"{CHILD}/local_ts", ["10.0.0.1/24"], f"{C}.local_ts[0]", "host bits"),
        (f"{CHILD}/remote_ts", ["10.0.0.9-10.0.0.1"], f"{C}.remote_ts[0]", "range"),
        (f"{CHILD}/remote_ts", ["10.0.0.0/8[tcp/99999]"], f"{C}.remote_ts[0]", "port"),
        (f"{CHILD}/remote_ts", ["10.0.0.0/8[foo]"], f"{C}.remote_ts[0]", "'foo'"),
        (f"{CHILD}/remote_ts", ["10.0.0.0/8[tcp"], f"{C}.remote_ts[0]", "']'"),
        (f"{CHILD}/remote_ts", ["10.0.0.0/8[tcp/x]"], f"{C}.remote_ts[0]", "bad port"),
        (f"{CHILD}/local_ts", [], f"{C}.local_ts", "not be empty"),
        (f"{CHILD}/esp_proposals", ["aes256"], f"{C}.esp_proposals[0]", "integrity"),
        (f"{CHILD}/mode", "beet", f"{C}.mode", "'tunnel' or 'transport'"),
        (f"{CHILD}/replay_window", 16, f"{C}.replay_window", "0 or 32..8192"),
        (f"{CHILD}/replay_window", 9000, f"{C}.replay_window", "0..8192"),
        (f"{CHILD}/extra", True, f"{C}.extra", "unknown key"),
        (
            f"{CONN}/ike_proposals",
            ["aes128ccm16-prfsha256-x25519"],
            f"{F}.ike_proposals[0]",
            "'aes128ccm16' is not supported",
        ),
        (
            f"{CONN}/ike_proposals",
            ["aes256gcm16-prfsha384-x25519", "aes256-sha256-modp2048"],
            f"{F}.ike_proposals[1]",
            "'modp2048' is not supported",
        ),
        (
            f"{CHILD}/esp_proposals",
            ["aes256-sha256"],
            f"{C}.esp_proposals[0]",
            "ESP encryption 'aes256' is not supported",
        ),
        (
            f"{CONN}/ike_proposals",
            ["aes256gcm16-prfsha384-x25519-ke1_mlkem768-ke2_mlkem768"],
            f"{F}.ike_proposals[0]",
            "RFC 9370",
        ),
        (
            f"{CONN}/ike_proposals",
            ["aes256gcm16-prfsha384-x25519-ke1_x25519"],
            f"{F}.ike_proposals[0]",
            "RFC 9370",
        ),
        (f"{CONN}/local_addrs", ["127.0.0.9"], f"{F}.local_addrs[0]", "not a listen"),
        (f"{CONN}/remote_addrs", ["::1"], f"{F}.remote_addrs[0]", "no local address"),
        (
            f"{CONN}/remote_addrs",
            ["127.0.0.2", "::1"],
            f"{F}.remote_addrs[1]",
            "is IPv6",
        ),
        ("listne", ["127.0.0.1"], "listne", "did you mean 'listen'?"),
        (f"{CHILD}/esp_proposal", ["x"], f"{C}.esp_proposal", "'esp_proposals'"),
    ],
)
def test_validation_error_names_field(
    path: str, value: Any, field: str, message: str
) -> None:
    error = _error(_with(path, value))
    assert error.field == field
    assert message in error.message
    assert str(error).startswith(f"{field}: ")


def test_cookie_threshold_up_to_half_open_limit() -> None:
    data = _with("cookie_threshold", 10)
    data["half_open_limit"] = 10
    config = loads(to_toml(data))
    assert (config.cookie_threshold, config.half_open_limit) == (10, 10)
    data["cookie_threshold"] = 11
    error = _error(data)
    assert error.field == "cookie_threshold"
    assert "half_open_limit" in error.message
    assert "11 > 10" in error.message


def test_receive_buffer_is_read_and_defaults_to_the_system_default() -> None:
    assert loads(to_toml(BASE)).receive_buffer == 0
    assert loads(to_toml(_with("receive_buffer", 8 << 20))).receive_buffer == 8 << 20


def test_limits_are_inclusive() -> None:
    data = _with(f"{CONN}/local_id", "x" * 60000)
    data["connections"]["site-a"]["ike_proposals"] = [
        "aes256gcm16-prfsha384-x25519"
    ] * 255
    net = data["connections"]["site-a"]["children"]["net"]
    net["local_ts"] = [f"10.0.0.{n}" for n in range(255)]
    conn = loads(to_toml(data)).connections["site-a"]
    assert len(conn.local_id.data) == 60000
    assert len(conn.ike_proposals) == 255
    assert len(conn.children[0].local_ts) == 255


def test_ids_that_overflow_the_ike_auth_encrypted_payload() -> None:
    # Each ID fits its own payload, but both share IKE_AUTH's Encrypted payload.
    data = _with(f"{CONN}/local_id", "x" * 65500)
    error = _error(data)
    assert error.field == f"{F}.local_id"
    assert "Encrypted payload" in error.message
    assert "65535" in error.message
    assert loads(to_toml(_with(f"{CONN}/local_id", "x" * 60000)))


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("listen = [\n")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert info.value.field == str(path)
    assert "invalid TOML" in info.value.message


def test_keylog_narrows_an_existing_wide_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    path.write_text("old\n")
    path.chmod(0o644)
    KeylogFile(path)("row 1")
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_text() == "old\nrow 1\n"


def test_keylog_does_not_follow_symlinks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "target"
    target.write_text("")
    (tmp_path / "keys.log").symlink_to(target)
    with caplog.at_level("ERROR", logger="pqike.config"):
        KeylogFile(tmp_path / "keys.log")("row 1")
    assert target.read_text() == ""
    assert "not written" in caplog.text


def test_keylog_refuses_a_file_of_another_user(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keys.log"
    path.write_text("")
    monkeypatch.setattr(os, "geteuid", lambda: path.stat().st_uid + 1)
    with caplog.at_level("ERROR", logger="pqike.config"):
        KeylogFile(path)("row 1")
    assert path.read_text() == ""
    assert "another user" in caplog.text


def test_psk_file_readable_by_others_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("from a file\n")
    data = _with(f"{CONN}/psk", _DEL)
    data["connections"]["site-a"]["psk_file"] = "secret.txt"
    path = tmp_path / "c.toml"
    path.write_text(to_toml(data))
    secret.chmod(0o600)
    with caplog.at_level("WARNING", logger="pqike.config"):
        load(path)
    assert not caplog.records
    secret.chmod(0o640)
    with caplog.at_level("WARNING", logger="pqike.config"):
        assert load(path).connections["site-a"].psk == b"from a file"
    assert "readable by others" in caplog.text
    assert f"{F}.psk_file" in caplog.text


def test_misspelt_required_key_is_reported_as_unknown() -> None:
    data = _with(f"{CONN}/local_id", _DEL)
    data["connections"]["site-a"]["locl_id"] = "fqdn:a.pq.test"
    error = _error(data)
    assert error.field == f"{F}.locl_id"
    assert error.message == "unknown key (did you mean 'local_id'?)"


def test_addresses_accept_wildcard_listen_and_both_families() -> None:
    data = _with("listen", ["0.0.0.0", "::1"])
    data["connections"]["site-a"]["local_addrs"] = ["127.0.0.1", "::1"]
    data["connections"]["site-a"]["remote_addrs"] = ["127.0.0.2", "::2"]
    conn = loads(to_toml(data)).connections["site-a"]
    assert conn.local_addrs == ("127.0.0.1", "::1")
    assert conn.remote_addrs == ("127.0.0.2", "::2")


@pytest.mark.parametrize(
    "listen",
    [
        ["0.0.0.0", "::"],
        ["::", "0.0.0.0"],
        ["127.0.0.1", "127.0.0.2", "::1"],
        ["0.0.0.0", "::1"],
    ],
)
def test_listen_accepts_addresses_that_do_not_overlap(listen: list[str]) -> None:
    # IPv6 sockets are IPv6-only, so the two wildcards do not overlap.
    config = loads(to_toml(_with("listen", listen)))
    assert config.listen == tuple((host, 5000) for host in listen)


def test_psk_env_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PQIKE_NO_SUCH_VAR", raising=False)
    data = _with(f"{CONN}/psk", _DEL)
    data["connections"]["site-a"]["psk_env"] = "PQIKE_NO_SUCH_VAR"
    error = _error(data)
    assert error.field == f"{F}.psk_env"
    assert "not set" in error.message


def test_psk_file_missing(tmp_path: Path) -> None:
    data = _with(f"{CONN}/psk", _DEL)
    data["connections"]["site-a"]["psk_file"] = "nope.txt"
    error = _error(data, tmp_path)
    assert error.field == f"{F}.psk_file"
    assert "cannot read" in error.message


def test_invalid_toml() -> None:
    with pytest.raises(ConfigError, match="invalid TOML"):
        loads("listen = [")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read") as info:
        load(tmp_path / "missing.toml")
    assert info.value.field.endswith("missing.toml")


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


# -- identities and traffic selectors --------------------------------------------


@pytest.mark.parametrize(
    ("text", "id_type", "data"),
    [
        ("fqdn:a.pq.test", 2, b"a.pq.test"),
        ("a.pq.test", 2, b"a.pq.test"),
        ("@a.pq.test", 2, b"a.pq.test"),
        ("user@x", 3, b"user@x"),
        ("email:user@x", 3, b"user@x"),
        ("10.0.0.1", 1, bytes([10, 0, 0, 1])),
        ("ipv6:::1", 5, bytes(15) + b"\x01"),
        ("keyid:#0a1b", 11, b"\x0a\x1b"),
        ("keyid:abc", 11, b"abc"),
    ],
)
def test_identity_parse(text: str, id_type: int, data: bytes) -> None:
    identity = Identity.parse(text)
    assert identity == Identity(id_type, data)
    assert Identity.parse(str(identity)) == identity


@pytest.mark.parametrize(
    "text",
    [
        "10.0.0.0/24",
        "10.0.0.1/32",
        "10.0.0.1-10.0.0.9",
        "::/0",
        "10.0.0.0/8[tcp/443]",
        "0.0.0.0/0[udp/1000-2000]",
        "::/0[ipv6-icmp]",
        "10.0.0.0/8[tcp]",
        "10.0.0.0/8[99]",
    ],
)
def test_traffic_selector_roundtrip(text: str) -> None:
    ts = TrafficSelector.parse(text)
    assert TrafficSelector.parse(str(ts)) == ts


def test_traffic_selector_fields() -> None:
    ts = TrafficSelector.parse("10.1.0.0/24[tcp/80]")
    assert ts == TrafficSelector(
        7, 6, 80, 80, bytes([10, 1, 0, 0]), bytes([10, 1, 0, 255])
    )
    assert TrafficSelector.parse("::/0").ts_type == 8


# -- built-in demo and examples --------------------------------------------------


def test_demo_pair_mirrors_each_other() -> None:
    responder, initiator = demo_pair()
    r, i = responder.connections["demo"], initiator.connections["demo"]
    assert r.local_id == i.remote_id
    assert r.remote_id == i.local_id
    assert r.remote_port == initiator.port
    assert i.remote_port == responder.port
    assert i.remote_natt_port == responder.natt_port
    assert r.psk == i.psk == DEMO_PSK
    assert r.children[0].local_ts == i.children[0].remote_ts
    assert str(i.ike_proposals[0]) == "aes256gcm16-prfsha384-x25519-ke1_mlkem768"
    assert str(i.children[0].esp_proposals[0]) == "aes256gcm16"
    assert responder.listen == (("127.0.0.1", responder.port),)


def test_defaults_take_ports() -> None:
    config = defaults(
        "initiator", responder_ports=(7000, 7001), initiator_ports=(7002, 7003)
    )
    assert (config.port, config.natt_port) == (7002, 7003)
    assert config.connections["demo"].remote_port == 7000
    assert config.connections["demo"].remote_natt_port == 7001


def test_dataclasses_are_frozen() -> None:
    config = defaults()
    with pytest.raises(AttributeError):
        config.port = 1  # type: ignore[misc]
    assert isinstance(config, EndpointConfig)
    assert isinstance(config.connections["demo"], ConnectionConfig)
    assert isinstance(config.connections["demo"].children[0], ChildConfig)


@pytest.mark.parametrize("name", ["responder.toml", "initiator.toml"])
def test_example_files_load(name: str) -> None:
    config = load(EXAMPLES / name)
    (conn,) = config.connections.values()
    assert conn.children
    assert config.listen[0][0] == "127.0.0.1"


def test_example_files_talk_to_each_other() -> None:
    responder = load(EXAMPLES / "responder.toml")
    initiator = load(EXAMPLES / "initiator.toml")
    (r,) = responder.connections.values()
    (i,) = initiator.connections.values()
    assert i.remote_port == responder.port
    assert r.local_id == i.remote_id
    assert r.remote_id == i.local_id
    assert r.psk == i.psk


# The chosen crypto backend must run every proposal (the reference backend has no
# ML-KEM-512): named at load time, not as a handshake failing "type 4 id 0".
MLKEM512_GAP = "reference backend: pyca/cryptography has no mlkem512"


@pytest.mark.parametrize(
    ("path", "proposals", "field", "keyword"),
    [
        (
            f"{CONN}/ike_proposals",
            ["aes256gcm16-prfsha384-x25519-ke1_mlkem512"],
            "connections.site-a.ike_proposals[0]",
            "ke1_mlkem512",
        ),
        (
            f"{CONN}/ike_proposals",
            ["aes256gcm16-prfsha384-x25519", "aes256gcm16-prfsha384-mlkem512"],
            "connections.site-a.ike_proposals[1]",
            "mlkem512",
        ),
        (
            f"{CHILD}/esp_proposals",
            ["aes256gcm16-mlkem512"],
            "connections.site-a.children.net.esp_proposals[0]",
            "mlkem512",
        ),
    ],
)
def test_backend_gap_is_a_config_error_at_load(
    reference_backend: Any, path: str, proposals: list[str], field: str, keyword: str
) -> None:
    """A proposal type the backend can run nothing of names the field and reason."""
    text = to_toml(_with(path, proposals))
    loads(text)  # pqike itself implements ML-KEM-512
    with pytest.raises(ConfigError) as info:
        loads(text, backend=reference_backend)
    assert info.value.field == field
    assert info.value.message.startswith(f"{keyword} cannot be used ")
    assert MLKEM512_GAP in info.value.message
    with pytest.raises(ConfigError) as again:
        check_backend(loads(text), reference_backend)
    assert str(again.value) == str(info.value)


def test_backend_gap_with_an_alternative_loads(reference_backend: Any) -> None:
    """A round that lists another method (or NONE) still loads: the engine offers
    what the backend runs."""
    for proposal in (
        "aes256gcm16-prfsha384-x25519-ke1_mlkem512-ke1_mlkem768",
        "aes256gcm16-prfsha384-x25519-ke1_mlkem512-ke1_none",
        "aes256gcm16-prfsha384-mlkem512-x25519",
    ):
        data = _with(f"{CONN}/ike_proposals", [proposal])
        loads(to_toml(data), backend=reference_backend)


def test_rust_backend_runs_mlkem512(rust_backend: Any) -> None:
    data = _with(f"{CONN}/ike_proposals", ["aes256gcm16-prfsha384-mlkem512"])
    loads(to_toml(data), backend=rust_backend)


def test_load_checks_the_backend(tmp_path: Path, reference_backend: Any) -> None:
    path = tmp_path / "c.toml"
    data = _with(f"{CONN}/ike_proposals", ["aes256gcm16-prfsha384-mlkem512"])
    path.write_text(to_toml(data))
    load(path)
    with pytest.raises(ConfigError, match="no mlkem512"):
        load(path, backend=reference_backend)


def test_endpoint_checks_the_backend(reference_backend: Any, rust_backend: Any) -> None:
    """IkeEndpoint refuses, with the field and the reason, a config whose proposal
    the backend cannot run (it would otherwise drop the proposal without a word and
    fail every handshake with "unsupported transform type 4 id 0")."""
    import os

    from pqike.ikev2.endpoint import IkeEndpoint

    config = loads(
        to_toml(_with(f"{CONN}/ike_proposals", ["aes256gcm16-prfsha384-mlkem512"]))
    )
    IkeEndpoint(config, rust_backend, os.urandom)
    for _ in range(2):  # the check is remembered per config: a miss is not
        with pytest.raises(ConfigError) as info:
            IkeEndpoint(config, reference_backend, os.urandom)
        assert info.value.field == "connections.site-a.ike_proposals[0]"
        assert MLKEM512_GAP in info.value.message


@pytest.mark.parametrize("key", ["remote_addrs", "local_addrs"])
def test_any_beside_specific_addresses_is_an_error(key: str) -> None:
    """``["%any", "192.0.2.1"]`` used to be read as ``["192.0.2.1"]``, silently."""
    data = _with(f"{CONN}/{key}", ["%any", "127.0.0.1"])
    with pytest.raises(ConfigError) as info:
        loads(to_toml(data))
    assert info.value.field == f"connections.site-a.{key}[0]"
    assert "cannot be listed beside specific addresses" in info.value.message


def test_any_alone_is_any_peer() -> None:
    config = loads(to_toml(_with(f"{CONN}/remote_addrs", ["%any"])))
    assert config.connections["site-a"].remote_addrs == ()
