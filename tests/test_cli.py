"""The ``neco`` command: reports, JSON output, SQL, and user errors without tracebacks."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

from neco.cli import main
from tests.conftest import READERS, REPO


def test_cli_ingest_json_report(tmp_path, capsys):
    code = main(["ingest", str(READERS / "basic.csv"), "-w", str(tmp_path / "ws"), "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["rows_read"], report["accepted"], report["rejected"]) == (6, 3, 3)
    assert report["rejected_by_reason"] == {"empty_text": 2, "duplicate_id": 1}
    assert report["communities"] == {"coast": 1, "unlabelled": 1, "wetland": 1}
    assert report["sources"][0]["status"] == "ingested"


def test_cli_ingest_options_map_columns_and_label(tmp_path, capsys):
    code = main(
        [
            "ingest",
            str(READERS / "ragged.csv"),
            "-w",
            str(tmp_path / "ws"),
            "--json",
            "--community",
            "testers",
            "--text-col",
            "extra",
            "--id-col",
            "id",
            "--na-value",
            "b",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    # 'extra' is 'a' on r1 and 'b' on r4, which --na-value marks as missing
    assert report["communities"] == {"testers": 1}
    assert report["rejected_by_reason"] == {"malformed_row": 2, "empty_text": 1}
    assert report["sources"][0]["columns"] == {"text": "extra", "id": "id"}


def test_cli_ingest_text_report_and_info(tmp_path, capsys):
    ws = str(tmp_path / "ws")
    assert main(["ingest", str(READERS / "posts.jsonl"), "-w", ws]) == 0
    text = capsys.readouterr().out
    assert "12 rows read: 8 accepted, 4 rejected" in text
    assert "Repaired: reply_cycle 2, dangling_parent 1" in text
    assert main(["ingest", str(READERS / "posts.jsonl"), "-w", ws]) == 0
    assert "unchanged" in capsys.readouterr().out
    assert main(["info", "-w", ws, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["accepted"], info["rejected"], info["tables"]) == (
        8,
        4,
        {"corpus": 8, "rejected": 4},
    )


def test_cli_sql_csv(tmp_path, capsys):
    ws = str(tmp_path / "ws")
    main(["ingest", str(READERS / "tabs.tsv"), "-w", ws, "--community", "p", "--json"])
    capsys.readouterr()
    assert main(["sql", "-w", ws, "SELECT id, author FROM corpus ORDER BY id", "--csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [["id", "author"], ["p:1", "zed"], ["p:2", "yan"]]


def test_cli_user_errors_exit_2(tmp_path, capsys):
    ws = str(tmp_path / "ws")
    assert main(["ingest", str(tmp_path / "missing.csv"), "-w", ws]) == 2
    assert "Source not found" in capsys.readouterr().err
    assert main(["ingest", str(READERS / "no_text_column.csv"), "-w", ws]) == 2
    assert "Columns found: 'img', 'judge', 'response'" in capsys.readouterr().err
    assert main(["info", "-w", str(tmp_path / "nothing")]) == 2
    assert main(["ingest", str(READERS / "basic.csv"), "-w", ws, "--format", "xml"]) == 2
    assert "Unknown format 'xml'" in capsys.readouterr().err
    assert main(["ingest", "-w", ws]) == 2


def test_cli_subprocess_has_no_traceback_for_user_errors(tmp_path):
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "neco",
            "ingest",
            str(READERS / "no_text_column.csv"),
            "-w",
            str(tmp_path / "ws"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "No text column found" in proc.stderr


def test_import_neco_is_light():
    code = (
        "import sys, neco; neco.Workspace; neco.Corpus; import neco.cli;"
        "heavy = [m for m in ('torch', 'spacy', 'transformers', 'diffusers', 'streamlit',"
        " 'sentence_transformers') if m in sys.modules]; print(heavy)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert proc.stdout.strip() == "[]"


def _commands(app, prefix=()):
    import typer.main

    group = typer.main.get_command(app)
    out = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            out += [(*prefix, name, sub) for sub in command.commands]
        else:
            out.append((*prefix, name))
    return out


def test_cli_every_subcommand_refuses_an_unknown_option_with_usage_and_exit_2(capsys):
    from neco.cli import app

    commands = _commands(app)
    assert ("social",) in commands and ("models", "pull") in commands and len(commands) >= 15
    for command in commands:
        assert main([*command, "--bogus"]) == 2, command
        err = capsys.readouterr().err
        assert "Usage: neco " + " ".join(command) in err, (command, err)
        assert "No such option: --bogus" in err and "Traceback" not in err


def test_cli_suggests_the_nearest_option_and_command(capsys):
    assert main(["social", "--backbon-alpha", "0.1"]) == 2
    assert "--backbone-alpha" in capsys.readouterr().err
    assert main(["socal"]) == 2
    assert "social" in capsys.readouterr().err.split("No such command")[1]


def test_cli_bad_values_are_refused_before_work(tmp_path, capsys):
    ws = str(tmp_path / "ws")
    main(["ingest", str(READERS / "tabs.tsv"), "-w", ws])
    capsys.readouterr()
    assert main(["social", "-w", ws, "--backbone-alpha", "2"]) == 2
    assert "Got 2.0 instead" in capsys.readouterr().err
    assert not (tmp_path / "ws" / "social").exists()  # nothing was parsed
    assert main(["graph", "-w", ws, "--kind", "terms", "--out", "g.txt"]) == 2
    assert "'.gexf', '.graphml', '.parquet'" in capsys.readouterr().err
    assert main(["vocab", "-w", ws, "--out", "t.xlsx"]) == 2
    assert ".csv, .tsv, .parquet. Got 't.xlsx'" in capsys.readouterr().err


def test_cli_tables_lists_declared_and_made_tables(tmp_path, capsys):
    ws = str(tmp_path / "ws")
    main(["ingest", str(READERS / "tabs.tsv"), "-w", ws])
    capsys.readouterr()
    assert main(["sample", "-w", ws, "--size", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["items"] == 2
    assert main(["tables", "-w", ws, "--json"]) == 0
    states = {t["table"]: t for t in json.loads(capsys.readouterr().out)}
    assert states["sample/items"]["rows"] == 2 and states["sample/items"]["state"] == "fresh"
    assert states["sample/items"]["inputs"] == ["corpus[id,community]"]
    assert main(["tables", "--declared", "--json"]) == 0
    declared = {t["name"] for t in json.loads(capsys.readouterr().out)}
    assert {"corpus", "social/keyness", "neural/latents"} <= declared


def test_cli_example_script_gives_keyness_and_a_concordance(tmp_path):
    script = REPO / "examples" / "quickstart.py"
    code = [
        line
        for line in script.read_text().splitlines()
        if line and not line.startswith(('"""', "Run it", "neco from"))
    ]
    assert len([c for c in code if not c.startswith(("import", "#"))]) <= 12
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "ws")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "carve" in proc.stdout and "chart" in proc.stdout  # museum's and alt text's top terms
    assert proc.stdout.count("carved") >= 5  # five concordance lines


def _formulas_ws(tmp_path):
    src = tmp_path / "formulas.csv"
    src.write_text(
        'id,text\nf1,"=HYPERLINK(""http://x.example"",""click"")"\nf2,+1 more\nf3,-a dash\n'
        "f4,@mention\nf5,A red kite\n",
        encoding="utf-8",
    )
    ws = str(tmp_path / "ws")
    assert main(["ingest", str(src), "-w", ws, "--json"]) == 0
    return ws


def test_cli_sql_csv_is_spreadsheet_safe_unless_raw(tmp_path, capsys):
    ws = _formulas_ws(tmp_path)
    capsys.readouterr()
    query = "SELECT id, text, length(text) AS n FROM corpus ORDER BY id"
    assert main(["sql", "-w", ws, query, "--csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert [r[1] for r in rows[1:]] == [
        '\'=HYPERLINK("http://x.example","click")',
        "'+1 more",
        "'-a dash",
        "'@mention",
        "A red kite",
    ]
    assert rows[3][2] == "7"  # numbers are left alone ("-a dash" has 7 characters)
    assert main(["sql", "-w", ws, query, "--csv", "--raw-csv"]) == 0
    raw = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert raw[1][1] == '=HYPERLINK("http://x.example","click")'
    out = tmp_path / "result.csv"
    assert main(["sql", "-w", ws, query, "--out", str(out)]) == 0
    written = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r[1] for r in written[1:]] == [r[1] for r in rows[1:]]


def test_cli_sql_is_read_only_and_says_how_to_write(tmp_path, capsys):
    ws = _formulas_ws(tmp_path)
    capsys.readouterr()
    assert main(["sql", "-w", ws, "DROP VIEW corpus"]) == 2
    err = capsys.readouterr().err
    assert "found DROP" in err and "--write FILE.duckdb" in err
    part = next((tmp_path / "ws" / "corpus.parquet").glob("part-*.parquet"))
    copy = f"COPY (SELECT * FROM corpus LIMIT 1) TO '{part}' (FORMAT parquet)"
    assert main(["sql", "-w", ws, copy]) == 2
    assert main(["sql", "-w", ws, "SELECT * FROM read_text('/etc/hostname')"]) == 2
    assert "cannot reach files" in capsys.readouterr().err
    assert main(["sql", "-w", ws, "SELECT count(*) AS n FROM corpus", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 5}]
    mine = str(tmp_path / "mine.duckdb")
    create = "CREATE TABLE dashes AS SELECT * FROM corpus WHERE text LIKE '-%'"
    assert main(["sql", "-w", ws, create, "--write", mine]) == 0
    capsys.readouterr()
    assert main(["sql", "-w", ws, "SELECT id FROM dashes", "--write", mine, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"id": "f3"}]


def test_cli_sql_table_shows_markup_as_text(tmp_path, capsys):
    src = tmp_path / "markup.csv"
    src.write_text("text\n[bold red]not markup[/bold red]\n", encoding="utf-8")
    ws = str(tmp_path / "ws")
    main(["ingest", str(src), "-w", ws, "--json"])
    capsys.readouterr()
    assert main(["sql", "-w", ws, "SELECT text FROM corpus"]) == 0
    assert "[bold red]not markup[/bold red]" in capsys.readouterr().out


def test_cli_bad_workspace_paths_and_manifests_exit_2(tmp_path, capsys):
    not_a_folder = tmp_path / "passwd"
    not_a_folder.write_text("root:x:0:0\n", encoding="utf-8")
    assert main(["ingest", str(READERS / "basic.csv"), "-w", str(not_a_folder)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    ws = tmp_path / "ws"
    assert main(["ingest", str(READERS / "basic.csv"), "-w", str(ws), "--json"]) == 0
    (ws / "manifest.json").write_text("[]", encoding="utf-8")
    assert main(["info", "-w", str(ws)]) == 2
    assert "manifest.json is damaged: expected a JSON object, found []" in capsys.readouterr().err


def test_cli_ingest_limits_and_outside_root_options(tmp_path, capsys):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(b"\x89PNG")
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG")
    src = tmp_path / "img" / "captions.csv"
    src.write_text(
        f"text,image\nA kite,a.png\nA heron,../secret.png\nAn owl,{secret}\n{'x' * 90},a.png\n",
        encoding="utf-8",
    )
    ws = str(tmp_path / "ws")
    assert main(["ingest", str(src), "-w", ws, "--json", "--max-field-length", "80"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["accepted"], report["rejected_by_reason"]) == (3, {"too_long": 1})
    assert report["repairs"] == {"image_outside_root": 2}
    assert (
        main(["sql", "-w", ws, "SELECT image, repairs FROM corpus ORDER BY record", "--json"]) == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["image"] == str((tmp_path / "img" / "a.png").resolve())
    assert [r["image"] for r in rows[1:]] == [None, None]
    assert rows[1]["repairs"].startswith("image '../secret.png' removed: it leads outside")
    other = str(tmp_path / "ws2")
    assert main(["ingest", str(src), "-w", other, "--json", "--allow-outside-root"]) == 0
    assert json.loads(capsys.readouterr().out)["repairs"] == {}
