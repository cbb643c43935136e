"""Decisions of the WebSocket port-forward (channel.k8s.io v4): ports, subprotocol, framing."""

from __future__ import annotations

import pytest

from minikube_lite.api.errors import BadRequest
from minikube_lite.apiserver.portforward_ws import (
    BASE64,
    BINARY,
    choose_protocol,
    decode,
    encode,
    parse_ports,
)


def test_ports_repeated_and_comma_separated() -> None:
    assert parse_ports(["80", "8080,9090"]) == [80, 8080, 9090]


@pytest.mark.parametrize(("values", "message"), [
    ([], 'query parameter "port" is required'),
    ([""], 'query parameter "port" cannot be empty'),
    (["http"], 'unable to parse "http" as a port: strconv.ParseUint: parsing "http": invalid syntax'),
    (["80,70000"], 'unable to parse "80,70000" as a port: strconv.ParseUint: parsing "70000": value out of range'),
    (["0"], 'port "0" must be > 0'),
])
def test_bad_ports_are_400_with_the_kubelets_message(values: list[str], message: str) -> None:
    with pytest.raises(BadRequest) as err:
        parse_ports(values)
    assert err.value.code == 400 and err.value.message == message


def test_subprotocol_choice() -> None:
    assert choose_protocol("") is None  # no subprotocol: binary framing, as wsstream's "" protocol
    assert choose_protocol("v4.channel.k8s.io") == BINARY
    assert choose_protocol("foo, v4.base64.channel.k8s.io, v4.channel.k8s.io") == BASE64  # the client's order
    with pytest.raises(BadRequest):
        choose_protocol("v5.channel.k8s.io")


def test_framing_binary_and_base64() -> None:
    assert encode(BINARY, 2, b"\x50\x00") == b"\x02\x50\x00"
    assert encode(None, 0, b"hi") == b"\x00hi"
    assert encode(BASE64, 3, b"hi") == "3aGk="
    assert decode(BINARY, b"\x02abc") == (2, b"abc")
    assert decode(BASE64, "0aGk=") == (0, b"hi")
    assert decode(BINARY, b"") is None and decode(BASE64, "x") is None and decode(BASE64, "0!!") is None
