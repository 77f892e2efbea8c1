"""Saved views (pure): a view keeps only the page's filters, of the pages that have them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.console.views.service import SavedView, ViewIn, kept_query


def test_a_view_keeps_filters_in_a_stable_order_without_the_moments_parameters() -> None:
    assert kept_query("?status=assigned&lang=en&q=+路灯+&category=&cursor=abc") == (
        "q=%E8%B7%AF%E7%81%AF&status=assigned"
    )
    assert kept_query("channel=mayor_line&Bad-Key=1&x" + "y" * 50 + "=1") == "channel=mayor_line"
    assert kept_query("") == ""


def test_a_view_needs_a_name_and_a_page_with_filters() -> None:
    view = ViewIn(name="  热线来件 ", page="/queue", query="channel=hotline_12345&lang=en")
    assert (view.name, view.query) == ("热线来件", "channel=hotline_12345")
    with pytest.raises(ValidationError) as blank:
        ViewIn(name="   ", page="/queue")
    assert blank.value.errors()[0]["loc"] == ("name",)
    with pytest.raises(ValidationError) as elsewhere:
        ViewIn(name="x", page="https://example.com/")
    assert elsewhere.value.errors()[0]["loc"] == ("page",)
    with pytest.raises(ValidationError):
        ViewIn(name="x" * 61, page="/board")


def test_a_views_link_is_its_page_with_its_filters() -> None:
    assert SavedView(view_id=1, name="v", page="/board", query="overdue=true").href == (
        "/board?overdue=true"
    )
    assert SavedView(view_id=1, name="v", page="/queue", query="").href == "/queue"
