"""The command line: help that explains, one-sentence errors, the build lock."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from treeoflife import builddb, cli
from treeoflife.cli import STAGE_COMMANDS, build_parser, main
from treeoflife.stages import all_stages


def subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


def test_tol_help_lists_every_stage_command() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "treeoflife", "--help"], capture_output=True, text=True
    )
    assert run.returncode == 0
    for name in ("build", "scan", "split", "sample", "demo"):
        assert name in run.stdout


@pytest.mark.parametrize("command", subcommands())
def test_each_subcommand_has_help_that_explains(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "usage: tol " + command in text
    assert len(text.splitlines()) >= 3


def help_of(command: str, capsys) -> str:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return capsys.readouterr().out


def test_stage_commands_explain_their_stages_and_only_worker_stages_take_workers(
    capsys, monkeypatch
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # no wrapping: the stage help appears verbatim
    stages = {s.name: s for s in all_stages()}
    with_workers = set()
    for command, names in STAGE_COMMANDS.items():
        text = help_of(command, capsys)
        for name in names:
            assert stages[name].help.lower() in text.lower()
        if "--workers" in text:
            with_workers.add(command)
        assert ("--workers" in text) == any(stages[n].uses_workers for n in names)
    # scan, write and verify run worker tasks; so does split (cluster hashes the eval sets)
    assert with_workers == {"scan", "split", "shard", "verify"}
    assert "--workers" in help_of("build", capsys)


def test_help_and_workers_come_from_the_stage_objects(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "1000")
    changed = [
        dataclasses.replace(s, help="count every word twice", uses_workers=True)
        if s.name == "catalog"
        else dataclasses.replace(s, uses_workers=False)
        for s in all_stages()
    ]
    monkeypatch.setattr(cli, "all_stages", lambda: changed)
    catalog = help_of("catalog", capsys)
    assert "Count every word twice." in catalog and "--workers" in catalog
    assert "--workers" not in help_of("verify", capsys)


def test_a_stage_without_workers_refuses_the_option(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["resolve", "--out", str(tmp_path), "--workers", "2"])
    assert exit_.value.code == 2
    assert "unrecognized arguments: --workers 2" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("toml", "words"),
    [
        ("[split]\nval_percent = 150\n", "split.val_percent"),
        ('[images]\nresize = "squash"\n', "images.resize must be one of"),
        ('[shards]\nmax_samples = "many"\n', "shards.max_samples must be a int"),
        ("[splitt]\nseed = 1\n", "unknown section [splitt]"),
        ('[fetch.eol_dh]\nurl = "http://127.0.0.1/dh.zip"\n', None),  # read by tol fetch
        ("[split]\nseeed = 1\n", "unknown setting split.seeed"),
        ('[distribute]\nschedular = "tcp://h:8786"\n', "unknown setting distribute.schedular"),
        ('distribute = "tcp://h:8786"\n', "[distribute] must be a table"),
        ("[distribute]\nconnect_timeout = 5\n", None),  # scan runs no workers: no probe
        ('[distribute]\nconnect_timeout = "soon"\n', "distribute.connect_timeout must be a float"),
        ('[fetch.eol_dh]\nsha = "x"\n', "[fetch.eol_dh] has unknown setting sha"),
        ('[paths]\neol_dh = "nowhere/taxon.tab"\n', "paths.eol_dh"),
        ("this is = = not toml", "not valid TOML"),
    ],
)
def test_bad_config_is_one_clear_sentence(
    tmp_path: Path, capsys, toml: str, words: str | None
) -> None:
    (tmp_path / "src").mkdir()
    cfg = tmp_path / "tol.toml"
    cfg.write_text(toml)
    code = main(
        [
            "scan",
            "--sources",
            str(tmp_path / "src"),
            "--config",
            str(cfg),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err
    if words is None:
        assert code == 0
        return
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[-1].startswith("tol: error: ") and words in lines[-1]
    assert "Traceback" not in err


def test_a_stage_without_a_build_says_what_to_do(tmp_path: Path, capsys) -> None:
    assert main(["split", "--out", str(tmp_path / "out")]) == 2
    assert "pass --sources" in capsys.readouterr().err


def test_second_build_on_the_same_out_refuses_while_one_runs(tmp_path: Path, capsys) -> None:
    (tmp_path / "src").mkdir()
    with builddb.build_lock(tmp_path / "out"):
        code = main(["scan", "--sources", str(tmp_path / "src"), "--out", str(tmp_path / "out")])
    assert code == 2
    assert "in use by another tol command" in capsys.readouterr().err
    # and once the first is done, it runs
    assert main(["scan", "--sources", str(tmp_path / "src"), "--out", str(tmp_path / "out")]) == 0
