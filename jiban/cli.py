"""`jiban`: the operator's command line."""

from __future__ import annotations

import argparse
import asyncio
import sys

from shared.settings import Settings


def _dev(_args: argparse.Namespace) -> int:
    from jiban.dev import run

    return run()


def _migrate(args: argparse.Namespace) -> int:
    from shared.migrations import SERVICES, upgrade

    upgrade(Settings(), tuple(args.service) or SERVICES)
    print("migrated:", ", ".join(args.service or SERVICES))
    return 0


def _topics_create(_args: argparse.Namespace) -> int:
    from shared.broker import ensure_topics

    settings = Settings()
    created = asyncio.run(ensure_topics(settings))
    print(f"{len(created)} topics created" + (": " + ", ".join(created) if created else ""))
    return 0


def _topics_list(_args: argparse.Namespace) -> int:
    from shared.topics import TOPICS, dlq_of

    for topic in TOPICS:
        print(f"{topic.name:<24} {topic.carries}  (from {topic.produced_by})")
        if topic.consumed:
            print(f"{dlq_of(topic.name):<24} dead letters of {topic.name}")
    return 0


def _directory_demo(_args: argparse.Namespace) -> int:
    from jiban.setup import load_demo_directory

    report = asyncio.run(load_demo_directory(Settings()))
    print(
        f"demo directory loaded: {report.officers_changed} officers, "
        f"{report.enterprises_changed} enterprises, {report.departments_changed} departments "
        f"and {report.duty_changed} duty posts new or changed"
    )
    return 0


def _directory_import(args: argparse.Namespace) -> int:
    from jiban.directory_import import run_import

    return run_import(Settings(), args.file, strict=args.strict, dry_run=args.dry_run)


def _dlq_list(args: argparse.Namespace) -> int:
    from jiban.dlq import list_dead_letters

    letters = asyncio.run(list_dead_letters(Settings(), args.topic))
    for letter in letters:
        print(
            f"{letter.partition}:{letter.offset}  from {letter.origin_topic}"
            f"@{letter.headers.get('x-origin-partition')}:{letter.headers.get('x-origin-offset')}"
            f"  {letter.headers.get('x-failed-at', '')}\n    {letter.error}"
        )
    print(f"{len(letters)} dead letters on {args.topic}.dlq")
    return 0


def _dlq_replay(args: argparse.Namespace) -> int:
    from jiban.dlq import replay

    count = asyncio.run(replay(Settings(), args.topic))
    print(f"replayed {count} dead letters onto {args.topic}")
    return 0


def _channel_keys_create(args: argparse.Namespace) -> int:
    from jiban.channel_keys import ChannelKeyError, create_key, format_created, parse_channel
    from services.intake.channel_keys.keys import (
        MissingEncryptionKey,
        cipher_from_settings,
        parse_scopes,
    )

    settings = Settings()
    try:
        cipher = cipher_from_settings(settings)
        channel = parse_channel(args.channel)
        scopes = parse_scopes(args.scopes)
        key = asyncio.run(
            create_key(settings, cipher, channel=channel, scopes=scopes, key_id=args.id)
        )
    except (ChannelKeyError, MissingEncryptionKey, ValueError) as exc:
        print(f"jiban channel-keys create: {exc}", file=sys.stderr)
        return 2
    print(format_created(key))
    return 0


def _channel_keys_list(_args: argparse.Namespace) -> int:
    from jiban.channel_keys import format_list, list_keys

    print(format_list(asyncio.run(list_keys(Settings()))))
    return 0


def _channel_keys_revoke(args: argparse.Namespace) -> int:
    from jiban.channel_keys import ChannelKeyError, revoke_key

    try:
        info = asyncio.run(revoke_key(Settings(), args.id))
    except ChannelKeyError as exc:
        print(f"jiban channel-keys revoke: {exc}", file=sys.stderr)
        return 1
    print(f"revoked {info.key_id} ({info.channel.value}) at {info.revoked_at:%Y-%m-%d %H:%M} UTC")
    return 0


def _token(args: argparse.Namespace) -> int:
    from jiban.tokens import TokenError, officer_token, ops_token, signing_config

    settings = Settings()
    try:
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
    except TokenError as exc:
        print(f"jiban token: {exc}", file=sys.stderr)
        return 2
    print(token)  # only the token, so `TOKEN=$(jiban token --ops)` works
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="jiban", description=__doc__)
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    sub.add_parser("dev", help="run the whole system locally (what `make run` does)").set_defaults(
        func=_dev
    )

    migrate = sub.add_parser("migrate", help="apply the database migrations")
    migrate.add_argument("service", nargs="*", choices=["intake", "dispatch", "tracking", "notify"])
    migrate.set_defaults(func=_migrate)

    topics = sub.add_parser("topics", help="Kafka topics").add_subparsers(required=True)
    topics.add_parser("create", help="create missing topics").set_defaults(func=_topics_create)
    topics.add_parser("list", help="the topic table").set_defaults(func=_topics_list)

    directory = sub.add_parser("directory", help="dispatch's directory").add_subparsers(
        required=True
    )
    directory.add_parser("demo", help="load the demo directory").set_defaults(func=_directory_demo)
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
    directory_import.set_defaults(func=_directory_import)

    dlq = sub.add_parser("dlq", help="dead letters").add_subparsers(required=True)
    dlq_list = dlq.add_parser("list", help="what TOPIC dead-lettered, with the errors")
    dlq_list.add_argument("topic", help="the consumed topic, e.g. appeals.immediate")
    dlq_list.set_defaults(func=_dlq_list)
    dlq_replay = dlq.add_parser("replay", help="put TOPIC's dead letters back (after a fix)")
    dlq_replay.add_argument("topic", help="the consumed topic, e.g. appeals.immediate")
    dlq_replay.set_defaults(func=_dlq_replay)

    keys = sub.add_parser(
        "channel-keys", help="the keys channel adapters sign requests to intake with"
    ).add_subparsers(required=True)
    keys_create = keys.add_parser("create", help="a new key; prints its id and secret (once)")
    keys_create.add_argument("--channel", required=True, help="e.g. hotline_12345")
    keys_create.add_argument("--scopes", default="submit", help="submit,follow_up (default submit)")
    keys_create.add_argument("--id", help="the key id (default: <channel>-<random>)")
    keys_create.set_defaults(func=_channel_keys_create)
    keys.add_parser("list", help="every key, never its secret").set_defaults(
        func=_channel_keys_list
    )
    keys_revoke = keys.add_parser("revoke", help="stop accepting a key, on every replica at once")
    keys_revoke.add_argument("id", help="the key id")
    keys_revoke.set_defaults(func=_channel_keys_revoke)

    token = sub.add_parser(
        "token", help="a sign-in token (dev mode or JIBAN_JWT_SECRET); prints only the token"
    )
    who = token.add_mutually_exclusive_group(required=True)
    who.add_argument("--officer", metavar="ID", help="an officer; roles from the directory")
    who.add_argument("--ops", action="store_true", help="an operator (role ops)")
    token.add_argument("--minutes", type=int, default=60, help="lifetime (default 60)")
    token.set_defaults(func=_token)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
