"""Where a request comes from: the client's address, believing `X-Forwarded-For` only as far as
trusted proxies (the gateway's network, `JIBAN_TRUSTED_PROXIES`) wrote it. Pure."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_trusted_proxies(spec: str | Iterable[str]) -> tuple[IPNetwork, ...]:
    """`"10.0.0.0/8, 172.16.0.1"` (or an iterable of such) → networks; ValueError on a bad one."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    return tuple(ipaddress.ip_network(i.strip(), strict=False) for i in items if i.strip())


def _address(text: str) -> IPAddress | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:5123"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress, proxies: Sequence[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def client_address(
    peer: str | None, forwarded_for: Sequence[str] | str | None, proxies: Sequence[IPNetwork]
) -> str:
    """The address a request comes from. `X-Forwarded-For` is believed only as far as it was
    written by trusted proxies: starting from the direct peer, walk the list from the right and
    stop at the first hop that is not a trusted proxy (anything left of it could be forged)."""
    peer_address = _address(peer) if peer else None
    if peer_address is None:
        return peer or "unknown"
    if not forwarded_for or not _trusted(peer_address, proxies):
        return str(peer_address)
    values = [forwarded_for] if isinstance(forwarded_for, str) else list(forwarded_for)
    hops = [h for value in values for h in value.split(",") if h.strip()]
    client = peer_address
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break  # garbage in the chain: trust nothing further left
        client = address
        if not _trusted(address, proxies):
            break
    return str(client)
