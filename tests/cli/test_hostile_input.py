"""No command ends in a traceback on hostile input (issue 10, item 8).

Each command is given files that are not what it expects (deeply nested JSON, a 5,000-digit
number, bytes that are not UTF-8, a text file) and arguments far too long. Every refusal is one
line on stderr and exit 2; ``verify``'s verdict on a file that is no database stays exit 1.
"""

from __future__ import annotations

import pytest

from therapy_timer.cli import main

HOSTILE = {
    "nested": ("[" * 100_000 + "]" * 100_000).encode(),
    "digits": ('{"minutes": ' + "9" * 5000 + "}").encode(),
    "not-utf8": b"\xff\xfe garbage \x80\x81 not a database",
    "text": "Zoë's notes, not a database\n".encode(),
}


def run(argv) -> int:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
    return code


@pytest.fixture
def hostile(tmp_path):
    paths = {}
    for name, data in HOSTILE.items():
        paths[name] = tmp_path / f"{name}.db"
        paths[name].write_bytes(data)
    return paths


def commands(path, tmp_path):
    return [
        (["units", path], 2),
        (["superbill", "--db", path, "--visit", 1, "--out", tmp_path / "s.pdf"], 2),
        (["superbill", "--db", path, "--date", "2026-11-20", "--split", tmp_path], 2),
        (["daysheet", "--db", path, "--date", "2026-11-20", "--out", tmp_path / "d.pdf"], 2),
        (["export", "--db", path, "--date", "2026-11-20", "--out", tmp_path / "e.csv"], 2),
        (["backup", "--db", path, "--out", tmp_path / "b.db"], 2),
        (["restore", "--db", tmp_path / "fresh.db", "--from", path], 2),
        (["demo", "--db", path, "--end-date", "2026-11-20"], 2),
        # A file that is no clinic database at all is bad input (issue 11): exit 2, as every
        # command; damage verify finds in a real clinic database is its verdict (exit 1).
        (["verify", "--db", path], 2),
    ]


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_every_command_refuses_hostile_files_in_one_line(kind, hostile, tmp_path, capsys):
    for argv, expected in commands(hostile[kind], tmp_path):
        code = run(argv)
        out, err = capsys.readouterr()
        where = f"{argv[0]} with {kind}: {err!r}"
        assert code == expected, where
        assert err.count("\n") == 1 and err.startswith("therapy-timer"), where
        assert "Traceback" not in err, where
        if argv[0] != "verify":
            assert out == "", where
    assert not (tmp_path / "fresh.db").exists()  # nothing restored from a hostile file


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["superbill", "--visit", "9" * 5000, "--out", "x.pdf"],
      "bad visit number 9999999999999999999999999999999999999999…: no visit has a number that "
      "large"),
     (["superbill", "--visit", "99999999999999999999", "--out", "x.pdf"],
      "bad visit number 99999999999999999999: no visit has a number that large"),
     (["demo", "--seed", "9" * 5000], "argument --seed: invalid int value: '9999999999"),
     (["daysheet", "--date", "2" * 5000, "--out", "x.pdf"], "argument --date: bad date"),
     (["units", "--rule", "x" * 5000], "argument --rule: invalid choice")],
)
def test_huge_arguments_are_one_short_line(argv, message, capsys, tmp_path):
    assert run(["--db", tmp_path / "none.db", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert message in err and len(err) < 400, err
    assert "Traceback" not in err


def test_a_folder_where_a_file_belongs_is_one_line(tmp_path, capsys):
    folder = tmp_path / "folder"
    folder.mkdir()
    db = tmp_path / "clinic.db"
    assert main(["demo", "--db", str(db), "--end-date", "2026-11-20"]) == 0
    capsys.readouterr()
    cases = [
        (["backup", "--db", db, "--out", folder], 2,
         f"{folder} is a folder: give the backup a file name"),
        (["backup", "--db", folder, "--out", tmp_path / "b.db"], 2, "is a folder, not a "
         "database file"),
        (["restore", "--db", tmp_path / "r.db", "--from", folder], 2, "is a folder"),
        (["demo", "--db", folder], 2, "is a folder"),
        (["verify", "--db", folder], 2, "is a folder"),
        (["units", folder], 2, "cannot read"),
        (["daysheet", "--db", db, "--date", "2026-11-20", "--out", folder], 2, "is a folder"),
    ]
    for argv, expected, message in cases:
        assert run(argv) == expected, argv
        out, err = capsys.readouterr()
        assert err.count("\n") == 1 and message in err and "unexpected" not in err, (argv, err)
    assert sorted(p.name for p in folder.iterdir()) == []  # no partial file left in it


def test_a_reader_that_goes_away_is_not_an_error(tmp_path):
    """`therapy-timer verify --db X | head -1`: the pipe closes early; no 'unexpected error'."""
    import subprocess
    import sys

    db = tmp_path / "clinic.db"
    assert main(["demo", "--db", str(db), "--end-date", "2026-11-20"]) == 0
    child = subprocess.Popen([sys.executable, "-m", "therapy_timer", "verify", "--db", str(db)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()  # the reader is gone before the first line
    err = child.stderr.read().decode()
    child.stderr.close()
    assert child.wait(timeout=60) == 0, err
    assert err == ""
