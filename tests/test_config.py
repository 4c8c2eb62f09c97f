"""The schema, config.yaml, the presets and the errors a bad config must give."""

import copy

import pytest
import yaml
from support import ROOT

from hhalign.config import (
    ConfigError,
    deep_merge,
    is_pinned,
    load_schema,
    prepare,
    protocol_view,
    validate_config,
)


def base_config() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def with_preset(name: str) -> dict:
    return deep_merge(base_config(), yaml.safe_load((ROOT / "presets" / name).read_text()))


def walk(schema: dict, path: str = ""):
    for name, sub in schema.get("properties", {}).items():
        yield f"{path}{name}", sub
        yield from walk(sub, f"{path}{name}.")


def test_every_schema_key_has_a_description_and_a_default():
    keys = list(walk(load_schema()))
    assert len(keys) > 40
    missing = [k for k, sub in keys if "description" not in sub or "default" not in sub]
    assert missing == []


def test_config_yaml_and_every_preset_are_valid():
    views = prepare(base_config(), ROOT)
    assert set(views) == {"paper", "corrected"}
    assert views["paper"]["prompts"]["keyword_match"] == "substring"
    assert views["corrected"]["prompts"]["keyword_match"] == "word"
    for preset in sorted((ROOT / "presets").glob("*.yaml")):
        prepare(with_preset(preset.name), ROOT)


def test_paper_values_are_written_out():
    cfg = base_config()
    assert cfg["models"]["policy"]["name"] == "facebook/opt-350m"
    assert is_pinned(cfg["models"]["policy"]["revision"])
    assert is_pinned(cfg["data"]["hub"]["revision"])
    assert is_pinned(cfg["models"]["judge"]["revision"]) and cfg["models"]["judge"]["allow_pickle"]
    assert is_pinned(cfg["reward_model"]["base"]["revision"])
    assert cfg["prompts"]["seed"] == 100 and cfg["prompts"]["n_harmful"] == 50
    assert cfg["protocol_overrides"]["paper"] == {}


def test_tiny_preset_writes_elsewhere_than_the_paper_run():
    assert with_preset("tiny.yaml")["results_dir"] != base_config()["results_dir"]


def test_defaults_are_filled_in():
    cfg = validate_config({})
    assert cfg["prompts"]["seed"] == 100
    assert cfg["data"]["max_reject_fraction"] == 0.02


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["prompts"].update(sed=1), "prompts: Additional properties"),
        (lambda c: c.update(learning_rate=1), "<top level>: Additional properties"),
        (lambda c: c["prompts"].update(n_harmful="50"), "prompts.n_harmful: '50' is not of type"),
        (lambda c: c["data"].update(source="ftp"), "data.source: 'ftp' is not one of"),
        (lambda c: c["prompts"].update(keyword_match="fuzzy"), "prompts.keyword_match"),
    ],
)
def test_bad_config_names_the_key(edit, message):
    cfg = base_config()
    edit(cfg)
    with pytest.raises(ConfigError, match=message):
        prepare(cfg, ROOT)


def test_bad_protocol_override_names_the_protocol_and_key():
    cfg = base_config()
    cfg["protocol_overrides"]["corrected"]["prompts"]["n_helpfull"] = 3
    with pytest.raises(ConfigError, match=r"protocol 'corrected'.*\n.*prompts: Additional"):
        prepare(cfg, ROOT)


def test_protocol_without_overrides_entry():
    cfg = base_config()
    cfg["protocols"] = ["paper", "mine"]
    with pytest.raises(ConfigError, match="no entry for it"):
        prepare(cfg, ROOT)


def test_missing_local_paths_are_named(tmp_path):
    cfg = base_config()
    cfg["data"].update(source="local", local_dir=str(tmp_path / "nope"))
    cfg["models"]["policy"] = {"source": "local", "name": str(tmp_path / "no-model")}
    with pytest.raises(ConfigError) as err:
        prepare(cfg, ROOT)
    assert "data.local_dir" in str(err.value) and "models.policy.name" in str(err.value)


def test_protocol_view_merges_without_touching_the_base():
    cfg = validate_config(base_config())
    before = copy.deepcopy(cfg)
    view = protocol_view(cfg, "corrected")
    assert view["prompts"]["prompt_format"] == "assistant_cue"
    assert view["prompts"]["seed"] == 100  # untouched keys come from the base
    assert cfg == before


def test_is_pinned():
    assert is_pinned("0" * 40) and not is_pinned("main") and not is_pinned(None)


def test_chat_template_rendering_is_refused_where_it_cannot_work():
    cfg = base_config()
    cfg["generation"]["prompt_rendering"] = "chat_template"
    with pytest.raises(ConfigError, match="not allowed in the paper protocol"):
        protocol_view(cfg, "paper")
    cfg = base_config()
    cfg["protocol_overrides"]["corrected"]["generation"] = {
        "prompt_rendering": "chat_template",
        "extraction": "paper",
    }
    with pytest.raises(ConfigError, match=r"needs generation\.extraction: corrected"):
        protocol_view(cfg, "corrected")
    cfg["protocol_overrides"]["corrected"]["generation"]["extraction"] = "corrected"
    assert protocol_view(cfg, "corrected")["generation"]["prompt_rendering"] == "chat_template"


def test_sampled_decoding_is_never_the_paper_protocol_s():
    cfg = deep_merge(base_config(), {"generation": {"samples": 3}})
    with pytest.raises(ConfigError, match=r"samples: 3 is not allowed in the paper protocol"):
        protocol_view(cfg, "paper")
    assert protocol_view(cfg, "corrected")["generation"]["samples"] == 3
    assert protocol_view(base_config(), "paper")["generation"]["samples"] == 1  # greedy


def test_label_smoothing_that_trl_would_ignore_is_a_config_error():
    """TRL 1.16's sigmoid loss ignores label_smoothing (conservative DPO left TRL in 0.29)."""
    bad = deep_merge(base_config(), {"dpo": {"label_smoothing": 0.1}})
    with pytest.raises(ConfigError, match=r"no effect with dpo.loss_type: sigmoid.*0\.29"):
        protocol_view(bad, "paper")
    robust = deep_merge(base_config(), {"dpo": {"label_smoothing": 0.1, "loss_type": "robust"}})
    assert protocol_view(robust, "paper")["dpo"]["label_smoothing"] == 0.1
    flips = deep_merge(robust, {"dpo": {"label_smoothing": 0.5}})
    with pytest.raises(ConfigError, match=r"dpo.label_smoothing: 0.5 .*must lie in \[0, 0.5\)"):
        protocol_view(flips, "paper")


def test_a_misspelt_dpo_loss_is_a_config_error():
    """It used to fail only inside the training job, after SFT had trained."""
    bad = deep_merge(base_config(), {"dpo": {"loss_type": "ipo2"}})
    with pytest.raises(ConfigError, match=r"dpo.*'ipo2' is not one of"):
        validate_config(bad)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({"models": {"judge": {"name": "other/judge"}}}, "models.judge"),
        ({"tiny": {"vocab_size": 512}}, "tiny.vocab_size"),
        ({"data": {"train_subsets": ["harmless-base"]}}, "data"),
    ],
)
def test_a_protocol_may_not_change_what_the_run_shares(override, key):
    """One data build, one judge and one tiny tokenizer serve every protocol: an override of
    them would be silently ignored by the jobs, so it stops the run naming the key."""
    cfg = base_config()
    cfg["protocol_overrides"]["corrected"] = deep_merge(
        cfg["protocol_overrides"]["corrected"], override
    )
    with pytest.raises(ConfigError, match=rf"protocol_overrides.corrected changes {key},"):
        prepare(cfg, ROOT)


def test_a_protocol_may_change_the_policy():
    """A model ladder: a protocol with another policy (and tiny policy) is fine."""
    cfg = base_config()
    cfg["protocols"] = ["paper", "pythia"]
    cfg["protocol_overrides"]["pythia"] = {
        "extends": "paper",
        "models": {"policy": {"name": "EleutherAI/pythia-410m", "revision": "x"}},
        "tiny": {"policy": {"architecture": "gpt_neox"}},
        "dpo": {"lora": {"target_modules": None}},
    }
    views = prepare(cfg, ROOT)
    assert views["pythia"]["dpo"]["lora"]["target_modules"] is None
    assert views["paper"]["dpo"]["lora"]["target_modules"] == ["q_proj", "v_proj"]


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"threshold_band": 2.5, "threshold_scan": 2.0}, "exceeds claims.threshold_scan"),
        ({"threshold_band": 0.3, "threshold_step": 0.25}, "not a multiple of"),
    ],
)
def test_a_threshold_band_off_the_scanned_grid_is_a_config_error(claims, message):
    """A band beyond the scan made every rate claim 'not separable' without a word."""
    from hhalign.config import prepare

    cfg = validate_config(deep_merge(base_config(), {"claims": claims}))
    with pytest.raises(ConfigError, match=message):
        prepare(cfg, ROOT)


def test_the_configuration_reference_is_generated_from_the_schema():
    """docs/configuration.md is `make docs`'s output for the current schema: editing the
    schema without regenerating it fails here."""
    from hhalign.schema_doc import reference

    page = (ROOT / "docs" / "configuration.md").read_text()
    assert page == reference(), "docs/configuration.md is stale: run `make docs`"
    assert "| `release.min_identical` |" in page and "| `judges[].kind` |" in page


def test_check_config_validates_the_merged_files_and_names_the_key(tmp_path, capsys):
    """make check-config (``python -m hhalign.config FILE...``): a valid stack says what it
    checked; a schema error in a preset, or in a protocol's view, exits 1 naming the key and
    the reason (it once checked YAML syntax only and passed every invalid file)."""
    from hhalign.config import main

    tiny = str(ROOT / "presets" / "tiny.yaml")
    assert main([str(ROOT / "config.yaml"), tiny]) == 0
    out = capsys.readouterr().out
    assert "tiny.yaml" in out and "protocol views paper, corrected: valid" in out
    cases = {
        "prompts:\n  n_harmfull: 5\n": "prompts: Additional properties",
        "sft:\n  learning_rate: fast\n": "sft.learning_rate: 'fast' is not of type 'number'",
        "protocol_overrides:\n  corrected:\n    dpo: {beta: -1}\n": "protocol 'corrected'",
        "claims: {threshold_band: 9}\n": "claims.threshold_band: 9 exceeds",
    }
    for i, (text, reason) in enumerate(cases.items()):
        bad = tmp_path / f"bad{i}.yaml"
        bad.write_text(text)
        assert main([str(ROOT / "config.yaml"), tiny, str(bad)]) == 1, text
        out = capsys.readouterr().out
        assert reason in out and f"bad{i}.yaml" in out, out
