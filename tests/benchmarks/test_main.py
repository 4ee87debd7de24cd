"""The benchmark aggregator's table and JSON output (the suites themselves run in `make bench`)."""

from __future__ import annotations

import json

import benchmarks.__main__ as bench


def test_format_table_aligns_union_of_columns() -> None:
    table = bench.format_table(
        [{"suite": "a", "case": "x", "records_per_s": 25000.5}, {"suite": "b", "case": "yy", "ratio": 3.25}]
    )
    lines = table.splitlines()
    assert lines[0].split() == ["suite", "case", "records_per_s", "ratio"]
    assert lines[2].split() == ["a", "x", "25,000"]
    assert lines[3].split() == ["b", "yy", "3.25"]
    assert len({len(line.rstrip()) <= len(lines[1]) for line in lines}) == 1


def test_main_writes_json_and_reports_a_failing_suite(tmp_path, monkeypatch, capsys) -> None:
    def broken() -> list[dict]:
        raise RuntimeError("stack is down")

    monkeypatch.setattr(
        bench, "SUITES", {"ok": lambda: [{"suite": "ok", "case": "c", "seconds": 1.5}], "broken": broken}
    )
    out = tmp_path / "results.json"
    assert bench.main(["--out", str(out)]) == 1
    data = json.loads(out.read_text())
    assert data["results"][0] == {"suite": "ok", "case": "c", "seconds": 1.5}
    assert data["results"][1]["case"] == "FAILED" and "stack is down" in data["results"][1]["error"]
    assert data["meta"]["cpus"] >= 1
    assert "ok" in capsys.readouterr().out


def test_booleans_print_as_yes_and_no() -> None:
    lines = bench.format_table([{"case": "a", "met": True}, {"case": "b", "met": False}]).splitlines()
    assert lines[2].split() == ["a", "yes"] and lines[3].split() == ["b", "no"]
