"""Unsigned (web) submissions: a token bucket per client address, and who the client is."""

from __future__ import annotations

import pytest

from services.intake.channel_keys.ratelimit import TokenBucketLimiter
from shared.client_address import client_address, parse_trusted_proxies


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refused_with_retry_after():
    clock = Clock()
    limiter = TokenBucketLimiter(per_minute=6, burst=3, clock=clock)  # one token per 10 s
    assert [limiter.hit("a").allowed for _ in range(3)] == [True, True, True]
    refused = limiter.hit("a")
    assert not refused.allowed
    assert refused.retry_after_s == 10


def test_bucket_refills_over_time_up_to_the_burst():
    clock = Clock()
    limiter = TokenBucketLimiter(per_minute=6, burst=3, clock=clock)
    for _ in range(3):
        limiter.hit("a")
    clock.now += 4
    assert limiter.hit("a").retry_after_s == 6  # 0.4 of a token: 6 s to go
    clock.now += 6
    assert limiter.hit("a").allowed
    clock.now += 3600  # idle for long: back to the burst, no more
    assert [limiter.hit("a").allowed for _ in range(4)] == [True, True, True, False]


def test_waiting_exactly_retry_after_is_enough():
    clock = Clock()
    limiter = TokenBucketLimiter(per_minute=7, burst=1, clock=clock)
    limiter.hit("a")
    refused = limiter.hit("a")
    clock.now += refused.retry_after_s
    assert limiter.hit("a").allowed


def test_retry_after_is_whole_seconds_and_at_least_one():
    clock = Clock()
    limiter = TokenBucketLimiter(per_minute=6000, burst=1, clock=clock)  # 100 per second
    limiter.hit("a")
    refused = limiter.hit("a")
    assert isinstance(refused.retry_after_s, int) and refused.retry_after_s == 1


def test_clients_have_separate_buckets():
    limiter = TokenBucketLimiter(per_minute=1, burst=1, clock=Clock())
    assert limiter.hit("a").allowed
    assert not limiter.hit("a").allowed
    assert limiter.hit("b").allowed


def test_clock_stepping_back_refills_nothing():
    clock = Clock()
    limiter = TokenBucketLimiter(per_minute=60, burst=1, clock=clock)
    limiter.hit("a")
    clock.now -= 100
    assert not limiter.hit("a").allowed


def test_memory_is_bounded_forgetting_the_least_recent_client():
    limiter = TokenBucketLimiter(per_minute=1, burst=1, clock=Clock(), max_clients=2)
    limiter.hit("a")
    limiter.hit("b")
    limiter.hit("a")
    limiter.hit("c")
    assert len(limiter) == 2
    assert not limiter.hit("a").allowed  # still remembered: it was used recently
    assert limiter.hit("b").allowed  # forgotten: a full bucket again


def test_bad_limits_are_refused():
    with pytest.raises(ValueError):
        TokenBucketLimiter(per_minute=0, burst=1)


PROXIES = parse_trusted_proxies("10.0.0.0/8, 192.168.1.5,  fd00::/8")


def test_trusted_proxies_parse_cidrs_and_single_addresses():
    assert [str(p) for p in PROXIES] == ["10.0.0.0/8", "192.168.1.5/32", "fd00::/8"]
    assert parse_trusted_proxies("") == ()
    with pytest.raises(ValueError):
        parse_trusted_proxies("not-an-address")


def test_forwarded_for_is_ignored_from_an_untrusted_peer():
    assert client_address("203.0.113.9", "198.51.100.1", PROXIES) == "203.0.113.9"
    assert client_address("203.0.113.9", "198.51.100.1", ()) == "203.0.113.9"


def test_forwarded_for_is_believed_from_a_trusted_proxy():
    assert client_address("10.0.0.2", "198.51.100.1", PROXIES) == "198.51.100.1"


def test_a_forged_left_part_of_the_chain_is_skipped():
    # The client wrote "1.2.3.4" itself; our proxy appended the address it saw.
    assert client_address("10.0.0.2", "1.2.3.4, 198.51.100.1", PROXIES) == "198.51.100.1"


def test_a_chain_of_trusted_proxies_is_walked_through():
    chain = ["198.51.100.1, 192.168.1.5", "10.1.1.1"]  # two headers, as some proxies send
    assert client_address("10.0.0.2", chain, PROXIES) == "198.51.100.1"


def test_all_hops_trusted_gives_the_leftmost_and_garbage_stops_the_walk():
    assert client_address("10.0.0.2", "10.9.9.9", PROXIES) == "10.9.9.9"
    assert client_address("10.0.0.2", "198.51.100.1, junk", PROXIES) == "10.0.0.2"


def test_ports_and_ipv6_forms_are_understood():
    assert client_address("10.0.0.2", "198.51.100.1:5123", PROXIES) == "198.51.100.1"
    assert client_address("fd00::1", "[2001:db8::7]:443", PROXIES) == "2001:db8::7"
    assert client_address("::ffff:10.0.0.2", "198.51.100.1", PROXIES) == "198.51.100.1"


def test_no_peer_address():
    assert client_address(None, "198.51.100.1", PROXIES) == "unknown"
    assert client_address("testclient", None, PROXIES) == "testclient"
