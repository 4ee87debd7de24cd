"""The shared emulation loop's pieces: batches that keep an index together, the checkpoint file."""

from __future__ import annotations

from pathlib import Path

from emulation.runner import Checkpoint, split_batches


def test_split_batches_keeps_an_index_together() -> None:
    rows = [{"ind": i} for i in (1, 2, 2, 3, 4, 4, 4, 5)]
    assert [[r["ind"] for r in b] for b in split_batches(rows, 2, "ind")] == [[1, 2, 2], [3, 4, 4, 4], [5]]
    assert [len(b) for b in split_batches(rows, 1, "ind", keep_groups=False)] == [1] * 8


def test_a_checkpoint_only_applies_to_its_source_and_api(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    saved = Checkpoint(path, "sqlite:///a.db", "http://api-1")
    saved.advance("user_data", 41, 40)
    saved.save()
    same = Checkpoint(path, "sqlite:///a.db", "http://api-1")
    assert same.load() and same.after("user_data") == 41 and same.rows("user_data") == 40
    assert not Checkpoint(path, "sqlite:///b.db", "http://api-1").load()
    assert not Checkpoint(path, "sqlite:///a.db", "http://api-2").load()  # a fresh LocalStack: start over
    path.write_text("{not json")
    assert not Checkpoint(path, "sqlite:///a.db", "http://api-1").load()
