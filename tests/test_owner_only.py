"""Owner-only files: loose trees are tightened, symbolic links are neither changed nor followed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tokens_server.owner_only import make_private_dir, tighten_tree, write_private_file


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_loose_tree_is_tightened_without_following_links(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours to change")
    os.chmod(outside, 0o644)
    root = tmp_path / "data"
    (root / "db" / "journal").mkdir(parents=True)
    (root / "db" / "journal" / "log.1").write_text("x")
    (root / "db.log").write_text("x")
    (root / "run.sh").write_text("x")
    for path in [root, *root.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    os.chmod(root / "run.sh", 0o755)  # noqa: S103 - a loose file is what is tested
    (root / "link").symlink_to(outside)

    tighten_tree(root)

    assert _mode(root) == _mode(root / "db") == _mode(root / "db" / "journal") == 0o700
    assert _mode(root / "db.log") == _mode(root / "db" / "journal" / "log.1") == 0o600
    assert _mode(root / "run.sh") == 0o700  # only group and other bits are taken away
    assert _mode(outside) == 0o644


def test_private_files_and_dirs_are_owner_only_also_when_they_existed(tmp_path: Path) -> None:
    directory = tmp_path / "a" / "b"
    directory.mkdir(parents=True, mode=0o755)
    make_private_dir(directory)
    assert _mode(directory) == 0o700
    target = directory / "db.uri"
    target.write_text("old")
    os.chmod(target, 0o644)
    write_private_file(target, "new\n")
    assert target.read_text() == "new\n"
    assert _mode(target) == 0o600
    assert [p.name for p in directory.iterdir()] == ["db.uri"]  # no temporary file left
