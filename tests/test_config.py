"""tol.toml sections as typed settings: [distribute] and [fetch] like the others."""

from __future__ import annotations

import json

import pytest

from treeoflife import distribute
from treeoflife.config import Config, DistributeConfig, FetchConfig, from_dict
from treeoflife.errors import TolError
from treeoflife.fetch.catalogue import load_catalogue

TOML_SHAPED = {
    "distribute": {
        "scheduler": "tcp://h:8786",
        "connect_timeout": 3,
        "slurm": {"cores": 8, "memory": "16GB", "jobs": 4},
    },
    "fetch": {
        "timeout": 5,
        "tries": 2,
        "eol_dh": {"url": "https://mirror.example.org/dh21.zip"},
        "extra": {"url": "https://example.org/x.csv", "target": "extra/x.csv"},
    },
}


def test_distribute_and_fetch_are_typed_sections() -> None:
    cfg = from_dict(TOML_SHAPED)
    assert cfg.distribute == DistributeConfig(
        scheduler="tcp://h:8786",
        slurm={"cores": 8, "memory": "16GB", "jobs": 4},
        connect_timeout=3.0,
    )
    assert cfg.fetch.timeout == 5.0 and cfg.fetch.tries == 2
    assert cfg.fetch.deadline == FetchConfig().deadline
    assert set(cfg.fetch.entries) == {"eol_dh", "extra"}
    catalogue = load_catalogue(cfg.fetch.entries, cfg.paths)
    assert catalogue["eol_dh"].url == "https://mirror.example.org/dh21.zip"
    assert catalogue["extra"].target == "extra/x.csv"


def test_stored_config_round_trips() -> None:
    cfg = from_dict(TOML_SHAPED)
    assert Config.from_json(cfg.to_json()) == cfg
    stored = json.loads(cfg.to_json())
    assert stored["fetch"]["eol_dh"] == {"url": "https://mirror.example.org/dh21.zip"}


def test_a_build_recorded_with_the_sections_under_extra_still_reads() -> None:
    old = json.loads(Config().to_json())
    del old["distribute"], old["fetch"]
    old["extra"] = {"distribute": {"scheduler": "tcp://h:8786"}, "fetch": {"tries": 3}}
    cfg = Config.from_json(json.dumps(old))
    assert cfg.distribute.scheduler == "tcp://h:8786" and cfg.fetch.tries == 3


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"distribute": {"schedular": "x"}}, "unknown setting distribute.schedular"),
        ({"distribute": {"scheduler": 8786}}, "distribute.scheduler must be a str"),
        ({"distribute": {"slurm": "big"}}, "distribute.slurm must be a table"),
        ({"distribute": {"connect_timeout": "soon"}}, "distribute.connect_timeout must be a float"),
        ({"distribute": {"connect_timeout": 0}}, "distribute.connect_timeout must be a positive"),
        ({"distribute": {"slurm": {"jobs": "4"}}}, "distribute.slurm.jobs must be a positive"),
        ({"fetch": {"timeot": 3}}, "unknown setting fetch.timeot"),
        ({"fetch": {"tries": 2.5}}, "fetch.tries must be a int"),
        ({"fetch": {"tries": 0}}, "fetch.tries must be at least 1"),
        ({"fetch": {"backoff": -1}}, "fetch.backoff must not be negative"),
        ({"fetch": {"timeout": {"url": "x"}}}, "fetch.timeout must be a float"),
        ({"fetch": {"eol_dh": {"sha": "x"}}}, "[fetch.eol_dh] has unknown setting sha"),
        ({"fetch": {"eol_dh": {"size": "big"}}}, "[fetch.eol_dh] size must be"),
        ({"select": {"include": "Aves"}}, "select.include must be a list"),
        ({"select": {"exclude": ["Aves", 3]}}, "select.exclude must be a list of names, got 3"),
        (
            {"select": {"include": ["famly:Felidae"]}},
            "select.include: 'famly:Felidae': 'famly' is not a rank",
        ),
        ({"select": {"require_ranks": ["tribe"]}}, "select.require_ranks: 'tribe' is not a rank"),
        ({"select": {"rank": "tribe"}}, "select.rank must be one of kingdom"),
        ({"select": {"max_per_taxon": -1}}, "select.max_per_taxon must not be negative"),
        (
            {"select": {"min_per_taxon": 5, "max_per_taxon": 2}},
            "select.min_per_taxon (5) is larger",
        ),
        ({"split": {"unit": "species"}}, "split.unit must be one of image, taxon"),
        ({"split": {"holdout_taxa": ["genus:"]}}, "split.holdout_taxa: 'genus:': no name after"),
        ({"report": {"changes": "yes"}}, "report.changes must be a bool"),
        ({"taxonomy": {"references": "gbif"}}, "taxonomy.references must be a list"),
        ({"taxonomy": {"references": ["gbif", "ncbi"]}}, "unknown reference 'ncbi'; known"),
        ({"taxonomy": {"references": ["col", "gbif", "col"]}}, "lists 'col' twice"),
    ],
)
def test_mistakes_name_the_key(data: dict, words: str) -> None:
    with pytest.raises(TolError) as err:
        from_dict(data, origin="tol.toml")
    message = str(err.value)
    assert message.startswith("tol.toml: ") and words in message and "\n" not in message


def test_environment_overrides_the_scheduler(monkeypatch) -> None:
    cfg = DistributeConfig(scheduler="tcp://config:8786", connect_timeout=3.0)
    monkeypatch.delenv(distribute.SCHEDULER_ENV, raising=False)
    assert distribute.backend(cfg) == cfg
    assert not distribute.uses_dask(distribute.backend(None))
    monkeypatch.setenv(distribute.SCHEDULER_ENV, "tcp://env:8786")
    assert distribute.backend(cfg) == DistributeConfig("tcp://env:8786", {}, 3.0)
    assert distribute.backend(None).scheduler == "tcp://env:8786"


def test_reference_trust_order_is_a_setting_and_round_trips() -> None:
    assert Config().taxonomy.references == ["eol_dh", "itis", "inat", "resolved", "col", "gbif"]
    cfg = from_dict({"taxonomy": {"references": ["gbif", "col", "eol_dh"]}})
    assert cfg.taxonomy.references == ["gbif", "col", "eol_dh"]
    assert Config.from_json(cfg.to_json()) == cfg
