"""Submissions and the appeals they created: answers stored together with what was answered
before and the appellants' open appeals read (`accept`), one answer read back.

The statement is built once and takes arrays, so one submission and a group of them cost the
same round trip: one, when each is new (or a visit), two when one may repeat an open appeal."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.tables import AnyRow, submissions
from shared.vocabulary import AppealStatus

# One statement for a group of submissions, in three parts:
# - `candidates`: the appeals of the given phones or credit codes received since `since` and not
#   known to be closed, the ones a submission may repeat;
# - the answers given (`n`) inserted, unless their (channel, external_id) is taken, or their
#   appellant (phone or credit code) has one of those candidates (only the caller can tell a
#   repeat: it is asked again, with what this returns); with them, the appeals they create. A
#   submission answered before, or by a concurrent transaction, writes nothing at all. Of two
#   transactions inserting the same key at once, the second waits for the first, then finds it
#   taken (or inserts, if the first rolled back): the primary key decides, across replicas. In
#   key order, so that transactions inserting several keys lock them in one order. A new
#   appeal's status is `received` until tracking announces anything; no time with it: whatever
#   tracking says next wins, whichever way the two services' clocks differ;
# - what it returns: what was answered before for the given keys (kind 0, as it stood before this
#   statement), the candidates (kind 1), and the keys inserted (kind 2).
_ACCEPT = text(
    """
    WITH n AS (
      SELECT * FROM unnest(
        CAST(:channels AS text[]), CAST(:external_ids AS text[]), CAST(:outcomes AS text[]),
        CAST(:appeal_ids AS uuid[]), CAST(:tracking_codes AS text[]),
        CAST(:scores AS float8[]), CAST(:reasons AS text[]),
        CAST(:received_ats AS timestamptz[]), CAST(:contents AS text[]),
        CAST(:phones AS text[]), CAST(:credit_codes AS text[]),
        CAST(:classifications AS text[])
      ) AS n(channel, external_id, outcome, appeal_id, tracking_code, score, reason,
             received_at, submission, phone, enterprise_credit_code, classification)
    ), candidates AS (
      SELECT a.appeal_id, a.tracking_code, a.phone, a.enterprise_credit_code,
             a.submission ->> 'content' AS content, a.received_at
      FROM intake.appeals AS a
      WHERE (a.phone = ANY(CAST(:candidate_phones AS text[]))
             OR a.enterprise_credit_code = ANY(CAST(:candidate_credit_codes AS text[])))
        AND a.received_at >= :since AND a.closed_at IS NULL
    ), s AS (
      INSERT INTO intake.submissions
        (channel, external_id, outcome, appeal_id, tracking_code, score, reason, received_at)
      SELECT channel, external_id, outcome, appeal_id, tracking_code, score, reason, received_at
      FROM n
      WHERE NOT EXISTS (
        SELECT FROM candidates
        WHERE candidates.phone = n.phone
           OR candidates.enterprise_credit_code = n.enterprise_credit_code
      )
      ORDER BY channel, external_id
      ON CONFLICT (channel, external_id) DO NOTHING
      RETURNING channel, external_id
    ), a AS (
      INSERT INTO intake.appeals
        (appeal_id, tracking_code, channel, external_id, submission, received_at, phone,
         enterprise_credit_code, classification, status)
      SELECT n.appeal_id, n.tracking_code, n.channel, n.external_id, CAST(n.submission AS jsonb),
             n.received_at, n.phone, n.enterprise_credit_code, CAST(n.classification AS jsonb),
             '{received}'
      FROM n JOIN s ON s.channel = n.channel AND s.external_id = n.external_id
      WHERE n.submission IS NOT NULL
    )
    SELECT 0 AS kind, d.channel, d.external_id, d.outcome, d.appeal_id, d.tracking_code,
           d.reason, NULL AS phone, NULL AS enterprise_credit_code, NULL AS content,
           d.received_at
    FROM intake.submissions AS d
    JOIN unnest(CAST(:keys_channels AS text[]), CAST(:keys_external_ids AS text[]))
      AS k(channel, external_id)
      ON d.channel = k.channel AND d.external_id = k.external_id
    UNION ALL
    SELECT 1, NULL, NULL, NULL, appeal_id, tracking_code, NULL, phone, enterprise_credit_code,
           content, received_at
    FROM candidates
    UNION ALL
    SELECT 2, channel, external_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM s
    """.replace("{received}", AppealStatus.RECEIVED.value)
)

_FIND = select(submissions).where(
    submissions.c.channel == bindparam("channel"),
    submissions.c.external_id == bindparam("external_id"),
)


@dataclass(frozen=True, slots=True)
class Accepted:
    """What `accept` found and did."""

    answers: dict[tuple[str, str], AnyRow]  # given before, by (channel, external_id)
    candidates: list[AnyRow]  # appeal_id, tracking_code, phone, credit code, content, received_at
    inserted: set[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Answer:
    """One submission's answer as stored; with `appeal`, the appeal it creates."""

    channel: str
    external_id: str
    outcome: str  # received | merged | visit_logged
    received_at: datetime
    appeal_id: UUID | None = None
    tracking_code: str | None = None
    score: float | None = None
    reason: str | None = None
    appeal: NewAppeal | None = None


@dataclass(frozen=True, slots=True)
class NewAppeal:
    submission: dict[str, object]  # the unified form, as JSON
    phone: str | None
    enterprise_credit_code: str | None
    classification: dict[str, str]


async def accept(
    session: AsyncSession,
    answers: Sequence[Answer],
    *,
    keys: Sequence[tuple[str, str]] = (),
    phones: Sequence[str] = (),
    credit_codes: Sequence[str] = (),
    since: datetime,
) -> Accepted:
    """Stores the `answers` (and the appeals they create) whose key is not taken and whose
    appellant has no open appeal of `phones` or `credit_codes` received since `since`; returns
    what was answered before for `keys`, those open appeals, and the keys stored. With no
    phones or credit codes, each answer is stored unless its key is taken."""
    appeals = [a.appeal for a in answers]
    rows = await session.execute(
        _ACCEPT,
        {
            "channels": [a.channel for a in answers],
            "external_ids": [a.external_id for a in answers],
            "outcomes": [a.outcome for a in answers],
            "appeal_ids": [a.appeal_id for a in answers],
            "tracking_codes": [a.tracking_code for a in answers],
            "scores": [a.score for a in answers],
            "reasons": [a.reason for a in answers],
            "received_ats": [a.received_at for a in answers],
            "contents": [None if p is None else json.dumps(p.submission) for p in appeals],
            "phones": [None if p is None else p.phone for p in appeals],
            "credit_codes": [None if p is None else p.enterprise_credit_code for p in appeals],
            "classifications": [
                None if p is None else json.dumps(p.classification) for p in appeals
            ],
            "candidate_phones": list(phones),
            "candidate_credit_codes": list(credit_codes),
            "since": since,
            "keys_channels": [channel for channel, _ in keys],
            "keys_external_ids": [external_id for _, external_id in keys],
        },
    )
    accepted = Accepted({}, [], set())
    for row in rows:
        if row.kind == 0:
            accepted.answers[(row.channel, row.external_id)] = row
        elif row.kind == 1:
            accepted.candidates.append(row)
        else:
            accepted.inserted.add((row.channel, row.external_id))
    return accepted


async def find_submission(session: AsyncSession, channel: str, external_id: str) -> AnyRow | None:
    result = await session.execute(_FIND, {"channel": channel, "external_id": external_id})
    return result.first()
