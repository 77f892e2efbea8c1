"""`jiban token` against a real Postgres holding the demo directory: the roles and unit come from
dispatch's `officers` table, and nothing is signed without dev mode or a configured secret."""

from __future__ import annotations

import asyncio

import pytest

from jiban import cli
from jiban.setup import load_demo_directory
from services.dispatch.directory import Directory, DutyPost
from services.dispatch.directory.demo import DUTY_DISPATCHER_ID, SUP_COMMUNITY, SUPERVISOR_UNITS
from shared.identity import (
    DEV_JWT_SECRET,
    IdentityNotConfigured,
    InvalidToken,
    Role,
    TokenVerifier,
    verifier_from,
)

pytestmark = pytest.mark.integration

OWN_SECRET = "integration-test-secret-of-a-deployment-itself"
JWT_ENV = ("JIBAN_JWT_SECRET", "JIBAN_JWT_AUDIENCE", "JIBAN_JWT_ISSUER", "JIBAN_DEV_MODE")


@pytest.fixture
def env(settings, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    for name in JWT_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


async def jiban_token(capsys, *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(cli.main, ["token", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def only_a_token(out: str) -> str:
    lines = out.splitlines()
    assert len(lines) == 1, out
    assert lines[0].count(".") == 2, out
    return lines[0]


async def test_a_supervisors_token_carries_officer_supervisor_and_their_unit(
    settings, env, capsys
) -> None:
    await load_demo_directory(settings)
    env.setenv("JIBAN_DEV_MODE", "1")

    code, out, err = await jiban_token(capsys, "--officer", SUP_COMMUNITY, "--minutes", "5")
    assert (code, err) == (0, "")
    principal = await verifier_from(dev_mode=True).verify(only_a_token(out))
    assert principal.sub == SUP_COMMUNITY
    assert principal.roles == {Role.OFFICER, Role.SUPERVISOR}
    assert principal.unit == SUPERVISOR_UNITS[SUP_COMMUNITY]


async def test_the_duty_dispatcher_also_dispatches_and_ops_has_no_unit(
    settings, env, capsys
) -> None:
    await load_demo_directory(settings)
    env.setenv("JIBAN_DEV_MODE", "1")
    verifier = verifier_from(dev_mode=True)

    code, out, _ = await jiban_token(capsys, "--officer", DUTY_DISPATCHER_ID)
    assert code == 0
    dispatcher = await verifier.verify(only_a_token(out))
    assert dispatcher.roles == {Role.OFFICER, Role.DISPATCHER}

    code, out, _ = await jiban_token(capsys, "--ops")
    assert code == 0
    ops = await verifier.verify(only_a_token(out))
    assert (ops.sub, ops.roles, ops.unit) == ("ops", {Role.OPS}, None)


async def test_the_duty_posts_decide_who_dispatches(settings, env, capsys) -> None:
    await load_demo_directory(settings)
    env.setenv("JIBAN_DEV_MODE", "1")
    verifier = verifier_from(dev_mode=True)

    async def roles_of(officer_id: str) -> frozenset[Role]:
        code, out, err = await jiban_token(capsys, "--officer", officer_id)
        assert (code, err) == (0, "")
        return (await verifier.verify(only_a_token(out))).roles

    # The posts handed over (as `PUT /v1/duty/{post}` or an import would): a community worker
    # dispatches, another holds the duty supervisor post and so supervises.
    handover = {DutyPost.DISPATCHER: "cw-dw01-2", DutyPost.SUPERVISOR: "cw-dw02-1"}
    await load_demo_directory(settings, Directory(officers=[], enterprises=[], duty=handover))
    assert await roles_of("cw-dw01-2") == {Role.OFFICER, Role.DISPATCHER}
    assert await roles_of("cw-dw02-1") == {Role.OFFICER, Role.SUPERVISOR}
    assert await roles_of(DUTY_DISPATCHER_ID) == {Role.OFFICER}
    assert await roles_of("cw-dw03-1") == {Role.OFFICER}


async def test_a_configured_secret_signs_outside_dev_mode(settings, env, capsys) -> None:
    await load_demo_directory(settings)
    env.setenv("JIBAN_JWT_SECRET", OWN_SECRET)
    env.setenv("JIBAN_JWT_AUDIENCE", "dawang")

    code, out, _ = await jiban_token(capsys, "--officer", SUP_COMMUNITY)
    assert code == 0
    token = only_a_token(out)
    principal = await TokenVerifier(secret=OWN_SECRET, audience="dawang").verify(token)
    assert principal.roles == {Role.OFFICER, Role.SUPERVISOR}
    # Not signed with the development secret: a dev-mode service would refuse it.
    with pytest.raises(InvalidToken, match="signature"):
        await verifier_from(dev_mode=True, audience="dawang").verify(token)


async def test_refuses_without_dev_mode_or_a_secret(settings, env, capsys) -> None:
    await load_demo_directory(settings)
    for argv in (("--officer", SUP_COMMUNITY), ("--ops",)):
        code, out, err = await jiban_token(capsys, *argv)
        assert code == 2
        assert out == ""
        assert "JIBAN_JWT_SECRET" in err
        assert "JIBAN_DEV_MODE" in err
    # And services in that state refuse to start rather than accept anything.
    with pytest.raises(IdentityNotConfigured):
        verifier_from(dev_mode=False)


async def test_refuses_the_dev_secret_outside_dev_mode_and_unknown_officers(
    settings, env, capsys
) -> None:
    await load_demo_directory(settings)
    env.setenv("JIBAN_JWT_SECRET", DEV_JWT_SECRET)
    code, out, err = await jiban_token(capsys, "--ops")
    assert (code, out) == (2, "")
    assert "development secret" in err

    env.setenv("JIBAN_DEV_MODE", "1")
    code, out, err = await jiban_token(capsys, "--officer", "nobody-99")
    assert (code, out) == (2, "")
    assert "nobody-99" in err

    code, out, err = await jiban_token(capsys, "--ops", "--minutes", "0")
    assert (code, out) == (2, "")
    assert "--minutes" in err
