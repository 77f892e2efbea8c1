"""Saved views (pure): which pages may keep one, and the query a view keeps."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from pydantic import BaseModel, StringConstraints, field_validator

# The pages whose filters a view keeps; a view of any other path would be a redirect anywhere.
PAGES = ("/queue", "/board")
NAME_CHARS = 60
QUERY_CHARS = 2000
# Parameters that belong to the moment, not to the view.
TRANSIENT = frozenset({"lang", "cursor", "page", "ruled", "done"})
_KEY = re.compile(r"^[a-z_]{1,40}$")


def kept_query(query: str) -> str:
    """The filters of a query string a view keeps: named parameters with a value, in a stable
    order, none of the moment's (language, paging)."""
    pairs = [
        (key, value.strip())
        for key, value in parse_qsl(query.lstrip("?"), keep_blank_values=False)
        if _KEY.match(key) and key not in TRANSIENT and value.strip()
    ]
    return urlencode(sorted(pairs))


class ViewIn(BaseModel):
    """A view as the save form sends it."""

    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_CHARS)
    ]
    page: str
    query: Annotated[str, StringConstraints(max_length=QUERY_CHARS)] = ""

    @field_validator("page")
    @classmethod
    def _a_page_with_filters(cls, page: str) -> str:
        if page not in PAGES:
            raise ValueError(f"views are kept for {', '.join(PAGES)} only")
        return page

    @field_validator("query")
    @classmethod
    def _only_filters(cls, query: str) -> str:
        return kept_query(query)


class SavedView(BaseModel):
    view_id: int
    name: str
    page: str
    query: str

    @property
    def href(self) -> str:
        return f"{self.page}?{self.query}" if self.query else self.page
