"""CSV exports: Excel-friendly encoding, one header, formula-looking cells defused."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request

from shared.csv_export import cell, csv_response, to_csv, wants_csv


def _request(accept: str) -> Request:
    return Request({"type": "http", "headers": [(b"accept", accept.encode())]})


def test_only_a_caller_asking_first_for_csv_gets_csv():
    assert wants_csv(_request("text/csv"))
    assert wants_csv(_request("text/csv;q=1, application/json;q=0.5"))
    assert not wants_csv(_request("application/json, text/csv"))
    assert not wants_csv(_request(""))


def test_cells_are_plain_text_and_formulas_are_defused():
    assert cell(None) == ""
    assert cell(True) == "true"
    assert cell(datetime(2026, 11, 28, 8, 0, tzinfo=UTC)) == "2026-11-28T08:00:00+00:00"
    assert cell(["a", "b"]) == "a;b"
    assert cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert cell("-3.5") == "-3.5"
    assert cell("王先生") == "王先生"


def test_the_file_has_a_bom_a_header_and_one_line_per_row():
    text = to_csv([{"a": 1, "b": "x,y"}, {"a": 2}], ["a", "b"])
    assert text == 'a,b\r\n1,"x,y"\r\n2,\r\n'
    response = csv_response([{"a": "水电气"}], ["a"], "rates.csv")
    assert response.body.startswith("\ufeff".encode())
    assert "水电气" in response.body.decode("utf-8")
    assert response.headers["content-disposition"] == 'attachment; filename="rates.csv"'
    assert response.media_type.startswith("text/csv")
