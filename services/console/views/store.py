"""The saved views table: a person's views, by page."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.console.tables import saved_views
from services.console.views.service import SavedView, ViewIn

# Enough for anyone's habits; a page lists them all.
MOST_PER_PAGE = 30


async def of(session: AsyncSession, subject: str, page: str) -> list[SavedView]:
    rows = await session.execute(
        select(saved_views)
        .where(saved_views.c.subject == subject, saved_views.c.page == page)
        .order_by(saved_views.c.name)
        .limit(MOST_PER_PAGE)
    )
    return [SavedView(view_id=r.id, name=r.name, page=r.page, query=r.query) for r in rows]


async def save(session: AsyncSession, subject: str, view: ViewIn) -> None:
    """Keeps the view; saving a name again replaces what it shows."""
    statement = insert(saved_views).values(
        subject=subject, page=view.page, name=view.name, query=view.query
    )
    await session.execute(
        statement.on_conflict_do_update(
            constraint="uq_saved_views_subject_page_name",
            set_={"query": statement.excluded.query},
        )
    )


async def forget(session: AsyncSession, subject: str, view_id: int) -> str | None:
    """Deletes one of the person's own views; returns its page, None when they have no such."""
    row = (
        await session.execute(
            delete(saved_views)
            .where(saved_views.c.id == view_id, saved_views.c.subject == subject)
            .returning(saved_views.c.page)
        )
    ).first()
    return None if row is None else str(row.page)
