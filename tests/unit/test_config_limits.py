# SPDX-License-Identifier: Apache-2.0
"""What ``pqike.config`` refuses at load, so that it never fails later or leaks a key.

* the configuration file and ``psk_file`` must be regular files or pipes of
  bounded size: a device, socket or directory is refused before it is read
  (``/dev/zero`` once read until the kernel killed the process); a pipe is read to
  its end, at most one octet past the limit, and one nobody writes to reads as
  empty instead of blocking;
* no error text quotes a pre-shared key (a non-UTF-8 ``psk_file`` once showed a key
  octet and its position);
* proposals whose SA payload cannot be sent are refused naming ``ike_proposals`` or
  ``esp_proposals``, and the largest that load do go through a handshake and rekeys;
* FQDN and RFC822 identities hold no control characters, FQDNs are ASCII.

The runaway reads are only ever tried in a child process with a memory limit and a
timeout, so that a regression fails the test instead of exhausting the machine.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pqike import config as config_module
from pqike.config import (
    MAX_CONFIG_OCTETS,
    MAX_PSK_FILE_OCTETS,
    EndpointConfig,
    Identity,
    load,
    loads,
)
from pqike.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

CONFIG = """
listen = ["127.0.0.1"]
port = {port}
natt_port = {natt_port}

[connections.site-a]
remote_addrs = ["127.0.0.1"]
remote_port = {remote_port}
remote_natt_port = {remote_natt_port}
local_id = {local_id}
remote_id = {remote_id}
{psk}
ike_proposals = {ike}

[connections.site-a.children.net]
local_ts = ["10.1.0.0/24"]
remote_ts = ["10.2.0.0/24"]
esp_proposals = {esp}
{more}
"""
SECRET = "S3cr3t-psk-v4lue"


def _toml_string(text: str) -> str:
    """A TOML basic string with every control character escaped."""
    return json.dumps(text).replace("\x7f", "\\u007f")


def _text(
    psk: str = f'psk = "{SECRET}"',
    *,
    ike: list[str] | None = None,
    esp: list[str] | None = None,
    more: str = "",
    local_id: str = "fqdn:a.pq.test",
    remote_id: str = "fqdn:b.pq.test",
    ports: tuple[int, int, int, int] = (5000, 5001, 5002, 5003),
) -> str:
    def toml_list(items: list[str]) -> str:
        return "[" + ", ".join(f'"{item}"' for item in items) + "]"

    return CONFIG.format(
        port=ports[0],
        natt_port=ports[1],
        remote_port=ports[2],
        remote_natt_port=ports[3],
        local_id=_toml_string(local_id),
        remote_id=_toml_string(remote_id),
        psk=psk,
        ike=toml_list(ike or ["aes256gcm16-prfsha384-x25519"]),
        esp=toml_list(esp or ["aes256gcm16"]),
        more=more,
    )


def _load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(path)
    return info.value


# -- A5: regular files of bounded size only ----------------------------------------


def _fifo(tmp_path: Path, content: bytes | None, delay: float = 0.0) -> Iterator[Path]:
    """A FIFO; with ``content``, a thread opens it for writing after ``delay``
    seconds and writes that. Should a read block for ever, a writer opens and closes
    it after 5 s, so the test fails instead of hanging."""
    path = tmp_path / "fifo"
    os.mkfifo(path)

    def write() -> None:
        time.sleep(delay)
        try:
            with open(path, "wb") as writer:
                writer.write(content or b"")
        except BrokenPipeError:
            pass  # the reader stopped at its limit

    if content is not None:
        threading.Thread(target=write, daemon=True).start()
    rescue = threading.Timer(5.0, lambda: open(path, "wb").close())
    rescue.daemon = True
    rescue.start()
    yield path
    rescue.cancel()


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    """A FIFO no one writes to."""
    yield from _fifo(tmp_path, None)


@pytest.fixture
def unix_socket(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        yield path


def _special(kind: str, tmp_path: Path, unix_socket: Path) -> Path:
    return {
        "character device": Path(os.devnull),
        "directory": tmp_path,
        "socket": unix_socket,
    }[kind]


KINDS = ["character device", "directory", "socket"]


@pytest.mark.parametrize("kind", KINDS)
def test_config_file_must_be_a_regular_file_or_pipe(
    kind: str, tmp_path: Path, unix_socket: Path
) -> None:
    """``-c /dev/null``, a directory or a socket: refused, saying what it is
    (without opening a device at all)."""
    path = _special(kind, tmp_path, unix_socket)
    error = _load_error(path)
    assert error.field == str(path)
    assert error.message == f"not a configuration file: it is a {kind}, not a " + (
        "regular file or a pipe"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_psk_file_must_be_a_regular_file_or_pipe(
    kind: str, tmp_path: Path, unix_socket: Path
) -> None:
    path = _special(kind, tmp_path, unix_socket)
    error = _error(_text(f'psk_file = "{path}"'), tmp_path)
    assert error.field == "connections.site-a.psk_file"
    assert error.message == f"{str(path)!r} is a {kind}, not a regular file or a pipe"


def test_config_file_from_a_pipe_loads(tmp_path: Path) -> None:
    """``pqike respond -c <(generate-config)``: a FIFO read to its end."""
    text = _text().encode()
    for path in _fifo(tmp_path, text):
        assert load(path) == loads(text.decode(), tmp_path)


def test_psk_file_from_a_pipe_loads(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for path in _fifo(tmp_path / "sub", b"pipe-secret\n"):
        config = loads(_text(f'psk_file = "{path}"'), tmp_path)
        assert config.connections["site-a"].psk == b"pipe-secret"


def test_named_fifo_whose_writer_comes_later_loads(tmp_path: Path) -> None:
    """``mkfifo f; pqike respond -c f & generate > f``: the writer opens the FIFO
    after pqike did (opened without blocking, the FIFO first reads as ended)."""
    text = _text().encode()
    for path in _fifo(tmp_path, text, delay=0.3):
        assert load(path) == loads(text.decode(), tmp_path)


def test_pipe_nobody_writes_to_is_an_error_not_a_hang(
    fifo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config_module, "PIPE_WAIT_SECONDS", 0.2)
    error = _load_error(fifo)
    assert error.field == str(fifo)
    assert error.message == (
        "not a configuration file: it is a pipe that nothing was written to in 0.2 s"
    )


def test_pipe_closed_without_a_word_is_an_empty_configuration(tmp_path: Path) -> None:
    for path in _fifo(tmp_path, b""):
        error = _load_error(path)
    assert (error.field, error.message) == (
        "connections",
        "at least one connection is required",
    )


def test_endless_pipe_is_refused_at_the_limit(tmp_path: Path) -> None:
    for path in _fifo(tmp_path, b"#" * (MAX_CONFIG_OCTETS + 4096)):
        error = _load_error(path)
    assert error.field == str(path)
    assert error.message == (
        f"not a configuration file: it is larger than {MAX_CONFIG_OCTETS} octets, "
        "the most read"
    )


def test_special_files_are_not_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A device is refused by its stat, before any open (opening one can block or
    act, as for a tape or a terminal). /dev/null, so that a regression that reads
    it still ends."""
    config = tmp_path / "c.toml"
    config.write_text(_text(f'psk_file = "{os.devnull}"'))

    def guard(real: Any) -> Any:
        def opener(path: Any, *args: Any, **kwargs: Any) -> Any:
            assert str(path) != os.devnull, f"opened {path}"
            return real(path, *args, **kwargs)

        return opener

    monkeypatch.setattr(os, "open", guard(os.open))
    monkeypatch.setattr(io, "open", guard(io.open))
    assert "character device" in _load_error(config).message
    assert "character device" in _load_error(Path(os.devnull)).message


def _run_bounded(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``python args`` with at most 1 GiB of address space and 60 s: a runaway
    read fails there (MemoryError, timeout) instead of taking the machine down."""
    limit = (
        "import resource; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"{limit}\nimport runpy, sys; sys.argv = {list(args)!r}"
            "\nrunpy.run_module(sys.argv[0], run_name='__main__')",
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_refuses_dev_zero_as_config_and_psk_file(tmp_path: Path) -> None:
    """The reported cases: ``pqike respond -c /dev/zero`` and ``psk_file =
    "/dev/zero"`` end at once with a configuration error (exit status 2)."""
    direct = _run_bounded("pqike.cli.main", "respond", "-c", "/dev/zero", cwd=tmp_path)
    assert direct.returncode == 2, direct.stderr
    assert direct.stderr == (
        "pqike: configuration error: /dev/zero: not a configuration file: it is a "
        "character device, not a regular file or a pipe\n"
    )
    (tmp_path / "c.toml").write_text(_text('psk_file = "/dev/zero"'))
    via_psk = _run_bounded("pqike.cli.main", "respond", "-c", "c.toml", cwd=tmp_path)
    assert via_psk.returncode == 2, via_psk.stderr
    assert via_psk.stderr == (
        "pqike: configuration error: connections.site-a.psk_file: '/dev/zero' is a "
        "character device, not a regular file or a pipe\n"
    )


def test_oversized_config_file_is_refused(tmp_path: Path) -> None:
    """Up to MAX_CONFIG_OCTETS a file loads; one octet more is refused unread."""
    text = _text()
    padding = MAX_CONFIG_OCTETS - len(text)
    path = tmp_path / "c.toml"
    path.write_text(text + "#" * (padding - 1) + "\n")
    assert path.stat().st_size == MAX_CONFIG_OCTETS
    assert load(path).connections["site-a"].psk == SECRET.encode()
    path.write_text(text + "#" * padding + "\n")
    error = _load_error(path)
    assert error.message == (
        f"not a configuration file: it is larger than {MAX_CONFIG_OCTETS} octets, "
        "the most read"
    )


def test_oversized_psk_file_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("0x" + "ab" * ((MAX_PSK_FILE_OCTETS - 2) // 2))
    key.chmod(0o600)
    config = tmp_path / "c.toml"
    config.write_text(_text('psk_file = "key"'))
    assert len(load(config).connections["site-a"].psk) == MAX_PSK_FILE_OCTETS // 2 - 1
    key.write_text("x" * (MAX_PSK_FILE_OCTETS + 1))
    error = _load_error(config)
    assert error.field == "connections.site-a.psk_file"
    assert "larger than 65536 octets" in error.message


# -- B1: no key material in any error text -----------------------------------------


def _error(text: str, base_dir: Path | str = ".") -> ConfigError:
    with pytest.raises(ConfigError) as info:
        loads(text, base_dir)
    return info.value


def _assert_no_key(error: BaseException, key: bytes) -> None:
    """Neither the key, nor any octet of it in any spelling, nor a position."""
    text = f"{error} {error!r} {error.args!r}"
    assert "position" not in text
    assert "codec" not in text
    for octet in set(key) - set(b"0123456789abcdefABCDEF"):
        if octet >= 0x80 or octet < 0x20:
            assert f"\\x{octet:02x}" not in text
            assert f"0x{octet:02x}" not in text
            assert f"U+{octet:04X}" not in text
    for chunk in (key[i : i + 4] for i in range(0, len(key) - 3)):
        assert chunk.decode("latin-1") not in text


def test_non_utf8_psk_file_names_no_octet(tmp_path: Path) -> None:
    """The tester's ``gen/binary.psk``: the message says what is wrong and how to give
    a binary key (0x hex), without quoting an octet or its position."""
    key = b"k\xa1\x00\xfeQzx7Wq9"
    (tmp_path / "binary.psk").write_bytes(key)
    error = _error(_text('psk_file = "binary.psk"'), tmp_path)
    assert error.field == "connections.site-a.psk_file"
    assert "is not valid UTF-8 text" in error.message
    assert "0x" in error.message
    _assert_no_key(error, key)
    (tmp_path / "binary.psk").write_text("0x" + key.hex())
    config = loads(_text('psk_file = "binary.psk"'), tmp_path)
    assert config.connections["site-a"].psk == key


def test_non_utf8_config_file_names_the_line_only(tmp_path: Path) -> None:
    key = b"Qz\xa1\xb2x7Wq9"
    path = tmp_path / "c.toml"
    path.write_bytes(_text('psk = "@@"').encode().replace(b"@@", key))
    error = _load_error(path)
    line = _text('psk = "@@"').split("\n").index('psk = "@@"') + 1
    assert (
        error.message == f"line {line} is not valid UTF-8 text (TOML files are UTF-8)"
    )
    _assert_no_key(error, key)


def test_non_utf8_psk_env_names_no_octet(monkeypatch: pytest.MonkeyPatch) -> None:
    key = b"Qzx\xa17Wq9"
    monkeypatch.setitem(os.environ, "PQIKE_TEST_KEY", os.fsdecode(key))
    error = _error(_text('psk_env = "PQIKE_TEST_KEY"'))
    assert error.field == "connections.site-a.psk_env"
    assert "is not valid UTF-8 text" in error.message
    _assert_no_key(error, key)


@pytest.mark.parametrize(
    "line",
    [
        'psk = "S3cr\x01t-psk-value"',  # control character in a basic string
        "psk = 'S3cr\x01t-psk-value'",  # ... and in a literal string
        'psk = "0xS3cr3tpskvalue"',  # not hex after 0x
        'pks = "S3cr3t-psk-value"',  # a misspelt key
        'psk = "S3cr3t-psk-value"\npsk_env = "S3cr3t-psk-value"',  # two sources
    ],
)
def test_config_errors_quote_no_psk(line: str) -> None:
    error = _error(_text(line))
    _assert_no_key(error, b"S3cr3t-psk-value")
    _assert_no_key(error, b"S3cr\x01t-psk-value")
    assert "\\x01" not in str(error)


def test_config_repr_shows_no_psk() -> None:
    config = loads(_text())
    for obj in (config, config.connections["site-a"]):
        assert SECRET not in repr(obj)
        assert SECRET not in str(obj)


# -- B2: SA payloads that fit ------------------------------------------------------

KE = ["x25519", "x448", "ecp256", "ecp384", "ecp521", "mlkem512", "mlkem768"]
KE += ["mlkem1024"]
# Many transforms per proposal; every additional round lists NONE first, so a
# handshake between two such configurations negotiates no additional key exchange.
ADDKE = [f"ke{n}_{ke}" for n in range(1, 8) for ke in ["none", *KE]]
BIG_IKE = "-".join(
    [f"aes{bits}gcm{icv}" for icv in (16, 12, 8) for bits in (256, 192, 128)]
    + ["chacha20poly1305", "prfsha384", "prfsha256", "prfsha512", "prfsha1"]
    + KE
    + ADDKE
)
BIG_ESP = "-".join(
    [
        *("aes256gcm16", "aes192gcm16", "aes128gcm16", "chacha20poly1305"),
        *("noesn", "esn", "none", *KE, *ADDKE),
    ]
)


def test_tester_case_255_big_ike_proposals_is_a_config_error() -> None:
    """255 proposals of 85 transforms loaded, then ``initiate`` failed with "payload
    type 33 is 184624 octets"; now the load names ike_proposals."""
    error = _error(_text(ike=[BIG_IKE] * 255))
    assert error.field == "connections.site-a.ike_proposals"
    assert error.message.startswith(
        "these proposals make an SA payload of up to 186664 octets, but at most 63391 "
        "fit beside the other payloads of an IKE SA rekey request"
    )


def _largest(make: Any) -> int:
    """The largest n in 1..255 for which ``make(n)`` loads."""
    low, high = 1, 255
    while low < high:
        mid = (low + high + 1) // 2
        try:
            loads(make(mid))
        except ConfigError:
            high = mid - 1
        else:
            low = mid
    return low


def test_esp_proposals_that_overflow_are_named(tmp_path: Path) -> None:
    """The first child's proposals (IKE_AUTH) and a further child's (CREATE_CHILD_SA)
    are refused naming their esp_proposals, not local_id."""
    error = _error(_text(esp=[BIG_ESP] * 255))
    assert error.field == "connections.site-a.children.net.esp_proposals"
    assert "SA payload of up to" in error.message
    other = '\n[connections.site-a.children.other]\nesp_proposals = ["{}"]\n'
    error = _error(_text(more=other.format('", "'.join([BIG_ESP] * 255))))
    assert error.field == "connections.site-a.children.other.esp_proposals"
    assert "a CREATE_CHILD_SA request for this Child SA" in error.message


def test_long_ids_are_still_named_as_ids() -> None:
    error = _error(_text(local_id="x" * 65300))
    assert error.field == "connections.site-a.local_id"
    assert "shorten the IDs" in error.message


def _pair(**kwargs: Any) -> tuple[EndpointConfig, EndpointConfig]:
    initiator = loads(_text(**kwargs, ports=(5002, 5003, 5000, 5001)))
    responder = loads(
        _text(
            **kwargs,
            ports=(5000, 5001, 5002, 5003),
            local_id="fqdn:b.pq.test",
            remote_id="fqdn:a.pq.test",
        ).replace(
            'local_ts = ["10.1.0.0/24"]\nremote_ts = ["10.2.0.0/24"]',
            'local_ts = ["10.2.0.0/24"]\nremote_ts = ["10.1.0.0/24"]',
        )
    )
    return initiator, responder


def _handshake_and_rekeys(
    rust_backend: Any, initiator: EndpointConfig, responder: EndpointConfig
) -> list[str]:
    """Run IKE_SA_INIT, IKE_AUTH, a Child SA rekey and an IKE SA rekey in memory;
    the names of the events, in order."""
    from pqike.ikev2.endpoint import IkeEndpoint

    initiating = IkeEndpoint(initiator, rust_backend, os.urandom)
    responding = IkeEndpoint(responder, rust_backend, os.urandom)
    # By local port (IKE, NAT-T): the peers differ only in their ports.
    peers = {5002: initiating, 5003: initiating, 5000: responding, 5001: responding}
    events: list[tuple[Any, Any]] = []

    def run() -> None:
        for _ in range(200):
            moved = False
            for endpoint in (initiating, responding):
                for data, local, remote in endpoint.datagrams_to_send(0.0):
                    assert len(data) <= 65507  # one UDP datagram over IPv4
                    peers[remote[1]].receive_datagram(data, remote, local, 0.0)
                    moved = True
                while (event := endpoint.next_event()) is not None:
                    events.append((endpoint, event))
            if not moved:
                return

    sa = initiating.initiate("site-a", 0.0)
    run()
    child = next(
        e.child
        for endpoint, e in events
        if endpoint is initiating and type(e).__name__ == "ChildEstablished"
    )
    initiating.rekey_child(sa, child, 0.0)
    run()
    initiating.rekey_ike(sa, 0.0)
    run()
    return [type(e).__name__ for _, e in events]


def test_largest_accepted_proposals_go_through(rust_backend: Any) -> None:
    """The bound is not too lax: with as many big IKE proposals, then big ESP
    proposals, as load accepts, the handshake and both rekeys succeed (every message
    fits its datagram or its Encrypted payload); one more is refused."""
    n_ike = _largest(lambda n: _text(ike=[BIG_IKE] * n))
    assert 50 < n_ike < 255
    with pytest.raises(ConfigError, match="SA payload"):
        loads(_text(ike=[BIG_IKE] * (n_ike + 1)))
    n_esp = _largest(lambda n: _text(esp=[BIG_ESP] * n))
    assert 50 < n_esp < 255
    for kwargs in ({"ike": [BIG_IKE] * n_ike}, {"esp": [BIG_ESP] * n_esp}):
        names = _handshake_and_rekeys(rust_backend, *_pair(**kwargs))
        assert "ConnectionFailed" not in names, names
        for wanted in ("IkeEstablished", "ChildRekeyed", "IkeRekeyed"):
            assert wanted in names, (kwargs.keys(), names)


# -- B11: identities ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fqdn:a\x00b", "has a control character (U+0000 at 1)"),
        ("a.test\r\n", None),  # stripped: trailing white space is no part of it
        ("fqdn:a\rb.test", "has a control character (U+000D at 1)"),
        ("@a\nb.test", "has a control character (U+000A at 1)"),
        ("user@a\x7f.test", "has a control character (U+007F at 6)"),
        ("email:u\x85@a.test", "has a control character (U+0085 at 1)"),
        ("fqdn:ü.test", "is not ASCII; peers compare the octets"),
        ("bücher.test", "write 'xn--bcher-kva.test'"),
    ],
)
def test_identity_text_is_checked(text: str, message: str | None) -> None:
    if message is None:
        assert Identity.parse(text).data == b"a.test"
        return
    error = _error(_text(local_id=text))
    assert error.field == "connections.site-a.local_id"
    assert message in error.message


def test_punycode_fqdn_and_utf8_rfc822_load() -> None:
    config = loads(_text(local_id="fqdn:xn--bcher-kva.test", remote_id="ü@b.test"))
    conn = config.connections["site-a"]
    assert conn.local_id == Identity(2, b"xn--bcher-kva.test")
    assert conn.remote_id == Identity(3, "ü@b.test".encode())
