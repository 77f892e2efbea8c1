"""`jiban`: the operator's command line. Every failure is one line on stderr and a non-zero exit
code (jiban/failures.py); commands that talk to PostgreSQL or Kafka find them in the environment,
else where a running `make run` says they are (jiban/servers.py)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn
from uuid import UUID

from jiban.failures import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, CommandError, Server, explain
from jiban.servers import Servers, command_servers, not_postgres
from shared.settings import Settings


def _dev(_args: argparse.Namespace, _settings: Settings) -> int:
    from jiban.dev import run

    return run()


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from shared.migrations import ALL_SERVICES, upgrade

    services = tuple(args.service) or ALL_SERVICES
    upgrade(settings, services)
    print("migrated:", ", ".join(services))
    return 0


def _topics_create(_args: argparse.Namespace, settings: Settings) -> int:
    from shared.broker import ensure_topics

    created = asyncio.run(ensure_topics(settings))
    print(f"{len(created)} topics created" + (": " + ", ".join(created) if created else ""))
    return 0


def _wait(args: argparse.Namespace, settings: Settings) -> int:
    from jiban.setup_wait import wait_ready

    ready = asyncio.run(wait_ready(settings, args.timeout))
    print(f"ready: {ready.schemas} schemas at head, {ready.topics} topics ({ready.seconds:.1f} s)")
    return 0


def _topics_list(_args: argparse.Namespace, _settings: Settings) -> int:
    from shared.topics import TOPICS, dlq_of

    for topic in TOPICS:
        print(f"{topic.name:<24} {topic.what}  (from {topic.produced_by})")
        if topic.consumed:
            print(f"{dlq_of(topic.name):<24} dead letters of {topic.name}")
    return 0


def _directory_demo(_args: argparse.Namespace, settings: Settings) -> int:
    from jiban.setup import load_demo_directory

    report = asyncio.run(load_demo_directory(settings))
    print(
        f"demo directory loaded: {report.officers_changed} officers, "
        f"{report.enterprises_changed} enterprises, {report.departments_changed} departments "
        f"and {report.duty_changed} duty posts new or changed"
    )
    return 0


def _directory_import(args: argparse.Namespace, settings: Settings) -> int:
    from jiban.directory_import import run_import

    return run_import(settings, args.file, strict=args.strict, dry_run=args.dry_run)


def _dlq_list(args: argparse.Namespace, settings: Settings) -> int:
    from jiban.dlq import list_dead_letters

    letters = asyncio.run(list_dead_letters(settings, args.topic))
    for letter in letters:
        print(
            f"{letter.partition}:{letter.offset}  from {letter.origin_topic}"
            f"@{letter.headers.get('x-origin-partition')}:{letter.headers.get('x-origin-offset')}"
            f"  {letter.headers.get('x-failed-at', '')}\n    {letter.error}"
        )
    print(f"{len(letters)} dead letters on {args.topic}.dlq")
    return 0


def _dlq_replay(args: argparse.Namespace, settings: Settings) -> int:
    from jiban.dlq import replay

    count = asyncio.run(replay(settings, args.topic))
    print(f"replayed {count} dead letters onto {args.topic}")
    return 0


def _lag(_args: argparse.Namespace, settings: Settings) -> int:
    from jiban.lag import deployment_lag, format_lag

    print(format_lag(asyncio.run(deployment_lag(settings))))
    return 0


def _outbox(_args: argparse.Namespace, settings: Settings) -> int:
    from jiban.outbox import backlogs, format_backlogs

    print(format_backlogs(asyncio.run(backlogs(settings))))
    return 0


def _notifications_failed(_args: argparse.Namespace, settings: Settings) -> int:
    from jiban.notifications import failed, format_failed

    print(format_failed(asyncio.run(failed(settings))))
    return 0


def _notifications_resend(args: argparse.Namespace, settings: Settings) -> int:
    from jiban.notifications import format_resent, refusals, resend

    done = asyncio.run(resend(settings, None if args.all_failed else args.ids))
    print(format_resent(done))
    if (refused := refusals(done)) is not None:
        raise refused
    return 0


def _channel_keys_create(args: argparse.Namespace, settings: Settings) -> int:
    from jiban.channel_keys import create_key, format_created, parse_channel
    from services.intake.channel_keys.keys import (
        MissingEncryptionKey,
        cipher_from_settings,
        parse_scopes,
    )

    try:
        cipher = cipher_from_settings(settings)
        scopes = parse_scopes(args.scopes)
    except (MissingEncryptionKey, ValueError) as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc
    channel = parse_channel(args.channel)
    key = asyncio.run(create_key(settings, cipher, channel=channel, scopes=scopes, key_id=args.id))
    print(format_created(key))
    return 0


def _channel_keys_list(_args: argparse.Namespace, settings: Settings) -> int:
    from jiban.channel_keys import format_list, list_keys

    print(format_list(asyncio.run(list_keys(settings))))
    return 0


def _channel_keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from jiban.channel_keys import revoke_key

    info = asyncio.run(revoke_key(settings, args.id))
    print(f"revoked {info.key_id} ({info.channel.value}) at {info.revoked_at:%Y-%m-%d %H:%M} UTC")
    return 0


def _docs(args: argparse.Namespace, _settings: Settings) -> int:
    from jiban.docs import README, DocsError, documents, render, write

    for path, tables in documents().items():
        name = path.relative_to(README.parent)
        try:
            if args.check:
                if render(path.read_text("utf-8"), tables) != path.read_text("utf-8"):
                    raise CommandError(
                        f"{name}'s tables differ from the code's: run `jiban docs`", EXIT_FAILED
                    )
                print(f"{name}'s tables are the code's")
            else:
                changed = write(path)
                print(f"{name}'s tables " + ("made afresh" if changed else "already the code's"))
        except DocsError as exc:
            raise CommandError(f"{name}: {exc}") from exc
    return 0


def _token(args: argparse.Namespace, settings: Settings) -> int:
    from jiban.tokens import officer_token, ops_token, signing_config

    secret = settings.jwt_secret
    config = signing_config(
        dev_mode=settings.dev_mode,
        secret=None if secret is None else secret.get_secret_value(),
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )
    if args.ops:
        token = ops_token(config, minutes=args.minutes)
    else:
        token = asyncio.run(officer_token(settings, config, args.officer, minutes=args.minutes))
    print(token)  # only the token, so `TOKEN=$(jiban token --ops)` works
    return 0


# --- the parser --------------------------------------------------------------------------------

Run = Callable[[argparse.Namespace, Settings], int]
DATABASE = frozenset({Server.DATABASE})
BROKER = frozenset({Server.BROKER})


@dataclass(frozen=True)
class Command:
    """A subcommand: its name for messages, what runs it, and the servers it talks to (those
    are looked for where `make run` says they are, and named when they fail)."""

    prog: str
    run: Run
    needs: frozenset[Server] = frozenset()


class Parser(argparse.ArgumentParser):
    """Usage errors in one line, like every other failure."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def _runs(
    parser: argparse.ArgumentParser, run: Run, needs: frozenset[Server] = frozenset()
) -> None:
    parser.set_defaults(command=Command(parser.prog, run, needs))


def _service(name: str) -> str:
    from shared.migrations import ALL_SERVICES

    if name not in ALL_SERVICES:
        known = ", ".join(ALL_SERVICES)
        raise argparse.ArgumentTypeError(f"unknown service {name!r} (known: {known})")
    return name


def _notification_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a notification id: {text!r}") from None


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="jiban", description="Jiban's operator command line.")
    p.add_argument(
        "--debug", action="store_true", help="on failure, the traceback and the libraries' logs"
    )
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    _runs(sub.add_parser("dev", help="run the whole system locally (what `make run` does)"), _dev)

    migrate = sub.add_parser("migrate", help="apply the database migrations")
    migrate.add_argument(
        "service", nargs="*", type=_service, help="intake, dispatch, tracking, notify (default all)"
    )
    _runs(migrate, _migrate, DATABASE)

    topics = sub.add_parser("topics", help="Kafka topics").add_subparsers(
        required=True, metavar="ACTION"
    )
    _runs(topics.add_parser("create", help="create missing topics"), _topics_create, BROKER)
    _runs(topics.add_parser("list", help="the topic table"), _topics_list)

    wait = sub.add_parser(
        "wait", help="wait until every schema is migrated and every topic exists (init containers)"
    )
    wait.add_argument("--timeout", type=float, default=300, help="seconds (default 300)")
    _runs(wait, _wait, DATABASE | BROKER)

    directory = sub.add_parser("directory", help="dispatch's directory").add_subparsers(
        required=True, metavar="ACTION"
    )
    _runs(directory.add_parser("demo", help="load the demo directory"), _directory_demo, DATABASE)
    directory_import = directory.add_parser(
        "import",
        help="import officers, enterprises, departments and duty posts from a roster "
        "(CSV or XLSX); "
        "exit 1 if rows were rejected, 2 if the file cannot be read",
    )
    directory_import.add_argument("file", help="the roster: .xlsx, or CSV in UTF-8 or GBK")
    directory_import.add_argument(
        "--strict", action="store_true", help="any rejected row means nothing is imported"
    )
    directory_import.add_argument(
        "--dry-run", action="store_true", help="check and report what would change; commit nothing"
    )
    _runs(directory_import, _directory_import, DATABASE)

    dlq = sub.add_parser("dlq", help="dead letters").add_subparsers(required=True, metavar="ACTION")
    dlq_list = dlq.add_parser("list", help="what TOPIC dead-lettered, with the errors")
    dlq_list.add_argument("topic", help="the consumed topic, e.g. appeals.immediate")
    _runs(dlq_list, _dlq_list, BROKER)
    dlq_replay = dlq.add_parser("replay", help="put TOPIC's dead letters back (after a fix)")
    dlq_replay.add_argument("topic", help="the consumed topic, e.g. appeals.immediate")
    _runs(dlq_replay, _dlq_replay, BROKER)
    _runs(
        sub.add_parser("lag", help="what each consumer group has not consumed yet, per topic"),
        _lag,
        BROKER,
    )

    _runs(
        sub.add_parser("outbox", help="per service: events not yet published, the oldest's age"),
        _outbox,
        DATABASE,
    )
    notifications = sub.add_parser(
        "notifications", help="the notifications notify gave up on"
    ).add_subparsers(required=True, metavar="ACTION")
    _runs(
        notifications.add_parser("failed", help="every failed notification, with its last error"),
        _notifications_failed,
        DATABASE,
    )
    resend = notifications.add_parser(
        "resend", help="put failed notifications back in the queue (a fresh retry budget)"
    )
    which = resend.add_mutually_exclusive_group(required=True)
    which.add_argument("ids", nargs="*", type=_notification_id, default=[], metavar="ID")
    which.add_argument("--all-failed", action="store_true", help="every failed notification")
    _runs(resend, _notifications_resend, DATABASE)
    keys = sub.add_parser(
        "channel-keys", help="the keys channel adapters sign requests to intake with"
    ).add_subparsers(required=True, metavar="ACTION")
    keys_create = keys.add_parser("create", help="a new key; prints its id and secret (once)")
    keys_create.add_argument("--channel", required=True, help="e.g. hotline_12345")
    keys_create.add_argument("--scopes", default="submit", help="submit,follow_up (default submit)")
    keys_create.add_argument("--id", help="the key id (default: <channel>-<random>)")
    _runs(keys_create, _channel_keys_create, DATABASE)
    _runs(keys.add_parser("list", help="every key, never its secret"), _channel_keys_list, DATABASE)
    keys_revoke = keys.add_parser("revoke", help="stop accepting a key, on every replica at once")
    keys_revoke.add_argument("id", help="the key id")
    _runs(keys_revoke, _channel_keys_revoke, DATABASE)

    token = sub.add_parser(
        "token", help="a sign-in token (dev mode or JIBAN_JWT_SECRET); prints only the token"
    )
    who = token.add_mutually_exclusive_group(required=True)
    who.add_argument("--officer", metavar="ID", help="an officer; roles from the directory")
    who.add_argument("--ops", action="store_true", help="an operator (role ops)")
    token.add_argument("--minutes", type=int, default=60, help="lifetime (default 60)")
    _runs(token, _token, DATABASE)

    docs = sub.add_parser("docs", help="make the README's tables from the code's own tables")
    docs.add_argument("--check", action="store_true", help="change nothing; exit 1 if they differ")
    _runs(docs, _docs)
    return p


def _quiet_libraries() -> None:
    """The libraries' own log lines (aiokafka's "Unable connect to …", asyncio's "Unclosed …")
    would come with Python's last-resort handler on top of the one line: none without --debug.
    A process that set up logging (a test run) keeps its own."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    command: Command = args.command
    if args.debug:
        logging.basicConfig(level=logging.INFO)
    else:
        _quiet_libraries()
    servers: Servers | None = None
    try:
        # Only a command that talks to servers looks for them; `jiban dev` starts its own.
        servers = command_servers() if command.needs else None
        if servers and Server.DATABASE in command.needs:
            if problem := not_postgres(servers.settings.database_url):
                raise CommandError(
                    f"DATABASE_URL {problem} ({servers.database_origin})", EXIT_USAGE
                )
        return command.run(args, servers.settings if servers else Settings())
    except KeyboardInterrupt:
        print(f"{command.prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            raise
        failure = explain(exc, servers, command.needs)
        print(f"{command.prog}: {failure}", file=sys.stderr)
        return failure.exit_code


if __name__ == "__main__":
    sys.exit(main())
