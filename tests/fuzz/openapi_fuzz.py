"""Fuzzing a running service through its own OpenAPI document.

Schemathesis makes requests from each operation's schema, valid ones and invalid ones; the test's
client sends them to the service running in-process (its real database and broker), as one of
the callers the test names (a sign-in token, a channel key that signs each request afresh); the
answers are judged by schemathesis' checks (no 5xx, only documented status codes, content types
and bodies, valid requests not refused as malformed, invalid ones not accepted) and by ours
(every 4xx has a JSON body).

Hypothesis drives the examples from a worker thread and hands each request to the test's event
loop, where the service lives (its connections belong to that loop).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import httpx
import hypothesis
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from hypothesis.errors import HypothesisDeprecationWarning
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.signing import signature_headers

# A few dozen examples per operation keep the suite's run bounded; `make fuzz` asks for more.
EXAMPLES = int(os.environ.get("JIBAN_FUZZ_EXAMPLES", "25"))
REQUEST_TIMEOUT_S = 30.0
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    positive_data_acceptance,
]
# Invalid requests must be refused: a service whose validation is laxer than its schema says
# takes what it documents it refuses (a day written "0").
REFUSES_INVALID = negative_data_rejection


@dataclass(frozen=True)
class Caller:
    """Who sends a request: `headers` gives the headers that say so, for its method, raw path
    and body (a signature covers them)."""

    name: str
    headers: Callable[[str, str, bytes], dict[str, str]]


def signed_in(name: str, token: str) -> Caller:
    return Caller(name, lambda _method, _path, _body: {"Authorization": f"Bearer {token}"})


class ChannelSigner:
    """Signs each request with a channel key. Intake refuses the same signature twice, and the
    signature covers the method, the path, the timestamp and the body: the same bytes signed
    again get a timestamp one second on (within intake's window of 300 s either side)."""

    def __init__(self) -> None:
        self._signed: Counter[tuple[str, str, str, bytes]] = Counter()
        self._start = time.time() - 240

    def sign(self, key_id: str, secret: str, method: str, path: str, body: bytes) -> dict[str, str]:
        key = (key_id, method, path, body)
        now = self._start + self._signed[key]
        self._signed[key] += 1
        return signature_headers(key_id, secret, method, path, body, now)


@dataclass(frozen=True)
class Finding:
    operation: str
    caller: str
    check: str
    status: int
    detail: str

    def __str__(self) -> str:
        return (
            f"{self.operation} as {self.caller}: {self.check} (status {self.status})\n{self.detail}"
        )


@dataclass
class Report:
    service: str
    requests: int = 0
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    findings: dict[tuple[str, str, int], Finding] = field(default_factory=dict)

    def add(self, finding: Finding) -> None:
        # One finding per operation, kind of failure and status: the first example that showed it.
        self.findings.setdefault((finding.operation, finding.check, finding.status), finding)

    def failures(self) -> str:
        return "\n\n".join(str(f) for f in self.findings.values())

    def reached(self, operation: str) -> set[int]:
        return {status for (label, status) in self.statuses if label == operation}


def _json_body(response: httpx.Response) -> bool:
    try:
        response.json()
    except ValueError:
        return False
    return response.headers.get("content-type", "").startswith("application/json")


class Fuzzer:
    """Fuzzes every operation of `app`'s OpenAPI document (a running app: its lifespan
    entered). `known` names values for path parameters (an appeal the service holds, an officer in
    its directory) so that requests reach past "not found"; `callers(label)` says who may send
    an operation's requests; `beyond_schemas` names, per operation, the places whose 422 turns
    on what the service holds, on the clock or on several fields together (an officer that must
    be in the directory, a month that must have begun, a period's end after its start), which no
    schema can say: a valid request refused there is no finding; without `refuses_invalid`,
    a request the schema calls invalid may be taken (a service that cleans what it is sent
    before it checks it)."""

    def __init__(
        self,
        service: str,
        app: FastAPI,
        *,
        callers: Callable[[str], Sequence[Caller]],
        known: Mapping[str, Sequence[str]] | None = None,
        beyond_schemas: Mapping[str, set[tuple[str | int, ...]]] | None = None,
        refuses_invalid: bool = True,
        examples: int = EXAMPLES,
    ) -> None:
        self.schema = schemathesis.openapi.from_dict(app.openapi())
        # The caller says who it is (a token, a signature): schemathesis leaves those headers out.
        self.schema.config.generation.update(with_security_parameters=False)
        self.app = app
        self.callers = callers
        self.known = known or {}
        self.beyond_schemas = beyond_schemas or {}
        self.checks = [*CHECKS, REFUSES_INVALID] if refuses_invalid else CHECKS
        self.examples = examples
        self.report = Report(service)

    async def run(self) -> Report:
        loop = asyncio.get_running_loop()
        # An exception the app does not handle is answered 500, as a server would, not raised.
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            self.client = client
            for result in self.schema.get_all_operations():
                await asyncio.to_thread(self._fuzz, result.ok(), loop)
        return self.report

    def _strategy(self, operation: Any) -> st.SearchStrategy[Any]:
        """Valid and invalid requests; for path parameters with known values, some with them."""
        names = [p.name for p in operation.path_parameters if p.name in self.known]
        fixed: list[dict[str, str] | None] = [None]
        if names:
            fixed += list(
                islice(
                    (
                        dict(zip(names, values, strict=True))
                        for values in _rotations(self.known, names)
                    ),
                    4,
                )
            )
        return st.one_of(
            [
                operation.as_strategy(mode, path_parameters=params)
                for params in fixed
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
            ]
        )

    def _fuzz(self, operation: Any, loop: asyncio.AbstractEventLoop) -> None:
        callers = list(self.callers(operation.label))

        @hypothesis.settings(
            max_examples=self.examples,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
        )
        @hypothesis.given(case=self._strategy(operation), caller=st.sampled_from(callers))
        def one(case: Any, caller: Caller) -> None:
            future = asyncio.run_coroutine_threadsafe(self._send(case, caller), loop)
            response = future.result(timeout=REQUEST_TIMEOUT_S)
            if response is None:
                return
            self._judge(operation.label, caller, case, response)

        with warnings.catch_warnings():
            # Schemathesis' strategies use `random` (Hypothesis seeds it for each example).
            warnings.simplefilter("ignore", HypothesisDeprecationWarning)
            one()

    async def _send(self, case: Any, caller: Caller) -> httpx.Response | None:
        kwargs = case.as_transport_kwargs(base_url="http://test")
        try:
            prepared = requests.Request(
                method=kwargs["method"],
                url=kwargs["url"],
                headers=kwargs.get("headers"),
                params=kwargs.get("params"),
                json=kwargs.get("json"),
                data=kwargs.get("data"),
                files=kwargs.get("files"),
                cookies=kwargs.get("cookies"),
            ).prepare()
        except (ValueError, requests.RequestException):
            return None  # nothing a client could send (a header no HTTP library would write)
        body = prepared.body or b""
        if isinstance(body, str):
            body = body.encode()
        headers = {k: v for k, v in prepared.headers.items() if isinstance(v, str)}
        try:
            request = self.client.build_request(
                str(prepared.method), str(prepared.url), headers=headers, content=body
            )
        except (httpx.InvalidURL, UnicodeError, ValueError):
            return None
        raw_path = request.url.raw_path.split(b"?", 1)[0].decode("latin-1")
        request.headers.update(caller.headers(request.method, raw_path, body))
        return await self.client.send(request)

    def _judge(self, label: str, caller: Caller, case: Any, response: httpx.Response) -> None:
        self.report.requests += 1
        self.report.statuses[(label, response.status_code)] += 1
        request = (
            f"{response.request.method} {response.request.url}\n{_shown(response.request.content)}"
        )
        answer = f"→ {response.status_code} {_shown(response.content)}"
        if 400 <= response.status_code < 500 and not _json_body(response):
            self.report.add(
                Finding(
                    label,
                    caller.name,
                    "4xx without a JSON body",
                    response.status_code,
                    f"{request}\n{answer}",
                )
            )
        checks = self.checks
        if _refuses_only(response, OPAQUE | self.beyond_schemas.get(label, set())):
            checks = [c for c in checks if c is not positive_data_acceptance]
        try:
            case.validate_response(response, checks=checks)
        except FailureGroup as group:
            for failure in group.exceptions:
                self._add(label, caller, failure, response, f"{request}\n{answer}")
        except Failure as failure:
            self._add(label, caller, failure, response, f"{request}\n{answer}")

    def _add(
        self, label: str, caller: Caller, failure: Failure, response: httpx.Response, shown: str
    ) -> None:
        title = failure.title or type(failure).__name__
        self.report.add(
            Finding(label, caller.name, title, response.status_code, f"{failure.message}\n{shown}")
        )


# Refusals of values the schemas do not describe, on purpose: a cursor is a token the service
# handed out (a string that is none of them is refused, however well formed), and no text may
# hold U+0000 (shared/http.py; written into every string's schema it would say nothing else).
OPAQUE = {("query", "cursor")}
NOT_IN_SCHEMAS = {"nul_character"}


def _refuses_only(response: httpx.Response, places: set[tuple[str | int, ...]]) -> bool:
    """A 422 whose every error is about one of `places` (or a value no schema shows)."""
    if response.status_code != 422:
        return False
    try:
        errors = response.json()["detail"]
        return all(
            error["type"] in NOT_IN_SCHEMAS
            or _cleaned_away(error)
            or any(_at(error["loc"], p) for p in places)
            for error in errors
        )
    except (ValueError, KeyError, TypeError):
        return False


def _cleaned_away(error: Mapping[str, Any]) -> bool:
    """Text the schema allows that cleaning empties (spaces, control and invisible characters
    only: shared/normalize.py), found too short: a valid request never reaches that error with
    an empty input otherwise."""
    if error.get("type") != "too_short":
        return False
    return error.get("input") == "" or (error.get("ctx") or {}).get("actual_length") == 0


def _at(loc: Sequence[str | int], place: tuple[str | int, ...]) -> bool:
    """`loc` is `place`, where "*" in `place` stands for any one key or index."""
    return len(loc) == len(place) and all(
        p in ("*", part) for part, p in zip(loc, place, strict=True)
    )


def _rotations(known: Mapping[str, Sequence[str]], names: list[str]) -> Iterable[tuple[str, ...]]:
    """The i-th known value of every parameter together, for as many as the longest list has."""
    longest = max(len(known[n]) for n in names)
    for i in range(longest):
        yield tuple(known[n][i % len(known[n])] for n in names)


def _shown(content: bytes, limit: int = 600) -> str:
    text = content.decode("utf-8", "replace")
    try:
        text = json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        pass
    return text if len(text) <= limit else text[:limit] + "…"
