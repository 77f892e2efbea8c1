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
        f"demo directory loaded: {report.officers_changed} officers and "
        f"{report.enterprises_changed} enterprises new or changed"
    )
    return 0


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

    dlq = sub.add_parser("dlq", help="dead letters").add_subparsers(required=True)
    dlq_list = dlq.add_parser("list", help="what TOPIC dead-lettered, with the errors")
    dlq_list.add_argument("topic", help="the consumed topic, e.g. appeals.immediate")
    dlq_list.set_defaults(func=_dlq_list)
    dlq_replay = dlq.add_parser("replay", help="put TOPIC's dead letters back (after a fix)")
    dlq_replay.add_argument("topic", help="the consumed topic, e.g. appeals.immediate")
    dlq_replay.set_defaults(func=_dlq_replay)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
