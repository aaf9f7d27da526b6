# SPDX-License-Identifier: Apache-2.0
"""An endpoint listening on IPv4 and IPv6 answers each peer from an address of the
peer's family (a datagram for an IPv6 peer cannot leave through an IPv4 socket)."""

from __future__ import annotations

import os

import pytest

from pqike.config import loads
from pqike.crypto import Backend
from pqike.ikev2.codec.header import decode_header
from pqike.ikev2.codec.message import decode_message
from pqike.ikev2.codec.payloads import NotifyPayload
from pqike.ikev2.constants import NON_ESP_MARKER, NotifyType
from pqike.ikev2.endpoint import IkeEndpoint

_CONN = """
[connections.c]
remote_addrs = [{remote}]
{local_addrs}
local_id = "fqdn:a.test"
remote_id = "fqdn:b.test"
psk = "address family test key 0123456789"
ike_proposals = ["aes256gcm16-prfsha256-x25519"]
[connections.c.children.net]
local_ts = ["10.1.0.0/24"]
remote_ts = ["10.2.0.0/24"]
esp_proposals = ["aes256gcm16"]
"""


def _endpoint(
    backend: Backend,
    listen: str,
    remote: str = '"%any"',
    local_addrs: str = "",
    extra: str = "",
) -> IkeEndpoint:
    text = f"listen = [{listen}]\nport = 500\nnatt_port = 4500\n{extra}\n" + (
        _CONN.format(remote=remote, local_addrs=local_addrs)
    )
    return IkeEndpoint(loads(text), backend, os.urandom)


@pytest.mark.parametrize(
    ("listen", "local_addrs", "remote", "want"),
    [
        ('"127.0.0.1", "::1"', "", "::1", "::1"),
        ('"::1", "127.0.0.1"', "", "127.0.0.1", "127.0.0.1"),
        ('"127.0.0.1", "::1"', 'local_addrs = ["127.0.0.1", "::1"]', "::1", "::1"),
        ('"0.0.0.0", "::"', "", "::1", "::"),
    ],
)
def test_initiator_sends_from_an_address_of_the_peers_family(
    backend: Backend, listen: str, local_addrs: str, remote: str, want: str
) -> None:
    ep = _endpoint(backend, listen, f'"{remote}"', local_addrs)
    ep.initiate("c", 0.0)
    ((data, local, peer),) = ep.datagrams_to_send(0.0)
    assert peer == (remote, 500)
    assert local == (want, 500)
    assert decode_header(data).exchange_type == 34


@pytest.mark.parametrize(
    ("local", "peer"),
    [
        (("::1", 500), ("::1", 1500)),
        (("127.0.0.1", 500), ("127.0.0.1", 1500)),
        (("::1", 4500), ("::1", 14500)),
    ],
)
def test_cookie_comes_from_the_address_the_request_came_to(
    backend: Backend, local: tuple[str, int], peer: tuple[str, int]
) -> None:
    responder = _endpoint(backend, '"127.0.0.1", "::1"', extra="cookie_threshold = 0")
    initiator = _endpoint(backend, f'"{peer[0]}"', f'"{local[0]}"')
    initiator.initiate("c", 0.0)
    ((request, _, _),) = initiator.datagrams_to_send(0.0)
    natt = local[1] == 4500
    responder.receive_datagram(
        NON_ESP_MARKER + request if natt else request, local, peer, 0.0
    )
    ((answer, source, destination),) = responder.datagrams_to_send(0.0)
    assert (source, destination) == (local, peer)
    if natt:
        assert answer[:4] == NON_ESP_MARKER
        answer = answer[4:]
    (cookie,) = decode_message(answer).payloads
    assert isinstance(cookie, NotifyPayload)
    assert cookie.notify_type == NotifyType.COOKIE
