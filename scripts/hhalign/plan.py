"""The run plan: which protocol owns each stage, the runs, the files, the targets.

Pure: a validated config and its protocol views in, names and paths out; nothing here
imports Snakemake, so the plan is unit-tested in milliseconds. ``rules/common.smk``
builds one ``Plan`` and the rules read it.

Stages are shared by key: two protocols whose SFT depends on the same config train it
once, under the first of them in config order (the owner); an experiment that only
changes DPO reuses its parent's SFT, prompts and Base evaluation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

from hhalign.cards import run_cards
from hhalign.config import ModelRef, model_source
from hhalign.judges import KINDS, check_kinds
from hhalign.layout import FIGURES, REPORTED, laid_out
from hhalign.methods import METHODS, method_job, method_key_parts
from hhalign.raw import local_path
from hhalign.runs import CHOSEN, PROMPT_SETS, run_name, split_run
from hhalign.switches import SWITCHES_OFF

# Keys of config ``training`` that change how a job reports, not what it trains.
NOT_TRAINING = ("report_to",)


def stage_key(*parts: Any) -> str:
    """A stage's identity: equal keys, equal outputs."""
    return json.dumps(parts, sort_keys=True, default=str)


def section_json(section: dict) -> str:
    """A config section as JSON for a training entry point (switches that are off left
    out)."""
    kept = {k: v for k, v in section.items() if k not in SWITCHES_OFF or SWITCHES_OFF[k] != v}
    return json.dumps(kept, sort_keys=True)


@dataclass(frozen=True)
class Plan:
    """What a run does, from its config and the protocols' views (``config.prepare``)."""

    config: dict
    views: dict[str, dict]

    def __post_init__(self) -> None:
        check_kinds(self.config["judges"])

    # The run's shape.
    @property
    def results(self) -> str:
        return self.config["results_dir"]

    @property
    def audit(self) -> str:
        """Tables and figures rebuilt from the authors' released scores."""
        return f"{self.results}/audit"

    @property
    def protocols(self) -> list[str]:
        return self.config["protocols"]

    @property
    def seeds(self) -> list[int]:
        return self.config["seeds"]

    @property
    def experiments(self) -> list[str]:
        """Protocols that extend another (their claims are adjusted as a family, BH)."""
        overrides = self.config["protocol_overrides"]
        return [p for p in self.protocols if overrides[p].get("extends")]

    @cached_property
    def judges(self) -> dict[str, dict]:
        """The judges beside the paper's (config judges[1:]), by name."""
        return {j["name"]: j for j in self.config["judges"][1:]}

    def judge_sets(self, name: str) -> list[str]:
        """The prompt sets a judge reads (a guard judges harmfulness alone)."""
        return list(KINDS[self.judges[name]["kind"]].prompt_sets)

    def view(self, protocol: str, section: str) -> Any:
        """One config section as ``protocol`` sees it."""
        return self.views[protocol][section]

    def runs(self, seeds: list[int] | None = None) -> list[str]:
        """Run names in table order: Base once, each trained variant once per seed."""
        seeds = seeds or self.seeds
        return [
            run_name(v, seed, seeds)
            for v in self.config["variants"]
            for seed in (seeds[:1] if v == "base" else seeds)
        ]

    def trained_runs(self) -> list[str]:
        return [r for r in self.runs() if r != "base"]

    # Stage keys and owners.
    def train_key(self, protocol: str, run: str) -> str:
        """Everything a trained run's weights depend on."""
        variant, seed = split_run(run, self.seeds)
        view = self.views[protocol]
        if variant == "base":
            return stage_key("base", view["models"]["policy"], view["tiny"])
        if variant in METHODS:  # hhalign.methods: its section, start, reward and budget
            return stage_key(*method_key_parts(self, protocol, run))
        if variant == "sft_dpo":
            sft = self.train_key(protocol, run_name("sft", seed, self.seeds))
            return stage_key("sft_dpo", view["dpo"], seed, sft)
        training = {k: v for k, v in view["training"].items() if k not in NOT_TRAINING}
        context = [*(view[s] for s in ("data", "models", "tiny")), training]
        return stage_key(variant, view["sft" if variant == "sft" else "dpo"], seed, context)

    def prompts_key(self, protocol: str) -> str:
        return stage_key(self.view(protocol, "prompts"), self.view(protocol, "data"))

    def evaluation_key(self, protocol: str, run: str) -> str:
        """Everything a run's generations and scores depend on."""
        view = self.views[protocol]
        return stage_key(
            self.train_key(protocol, run),
            self.prompts_key(protocol),
            view["generation"],
            view["scoring"],
            view["models"]["judge"],
        )

    def chosen_key(self, protocol: str) -> str:
        """Everything the judge's scores of the dataset's chosen answers depend on."""
        view = self.views[protocol]
        return stage_key(self.prompts_key(protocol), view["scoring"], view["models"]["judge"])

    def owner(self, protocol: str, key, *args) -> str:
        """The first protocol (config order) whose ``key(p, *args)`` equals this one's: its
        files serve both, so a stage two protocols share runs once."""
        mine = key(protocol, *args)
        return next(p for p in self.protocols if key(p, *args) == mine)

    def trained(self) -> list[tuple[str, str]]:
        """(owning protocol, run) of every training job, each once, in table order."""
        seen = {}
        for p in self.protocols:
            for r in self.trained_runs():
                seen.setdefault((self.owner(p, self.train_key, r), r), None)
        return list(seen)

    # Paths.
    def prompts_dir(self, protocol: str) -> str:
        return f"{self.results}/prompts/{self.owner(protocol, self.prompts_key)}"

    def raw_path(self, subset: str, split: str) -> str:
        return f"{self.results}/data/raw/{subset}/{split}.jsonl.gz"

    def train_raw_files(self) -> list[str]:
        data = self.config["data"]
        return [self.raw_path(s, data["train_split"]) for s in data["train_subsets"]]

    def prompt_raw_file(self, protocol: str, prompt_set: str) -> str:
        """A prompt set's file: its ``file``, else the raw file of its subset and split."""
        ref = self.view(protocol, "prompts")[prompt_set]
        if ref.get("file"):
            return ref["file"]
        return self.raw_path(ref["subset"], ref["split"])

    def local_raw_file(self, subset: str, split: str) -> list[str]:
        """The local file fetch_raw_data copies (data.source local; ``hhalign.raw``)."""
        data = self.config["data"]
        if data["source"] != "local":
            return []
        return [str(local_path(data["local_dir"], subset, split))]

    def raw_file_keys(self) -> list[tuple[str, str]]:
        """(subset, split) of every raw file the run reads: training and prompt sets."""
        data = self.config["data"]
        keys = [(s, data["train_split"]) for s in data["train_subsets"]]
        for p in self.protocols:
            for prompt_set in PROMPT_SETS:
                ref = self.view(p, "prompts")[prompt_set]
                if not ref.get("file"):
                    keys.append((ref["subset"], ref["split"]))
        return sorted(set(keys))

    def tiny_model_dir(self, role: str) -> str:
        return f"{self.results}/models/tiny/{role}"

    def tiny_policy_dir(self, protocol: str) -> str:
        """The run's tiny policy, or, for a protocol that changes tiny.policy (a model
        ladder), the one built under the first protocol with the same sizes."""
        if self.view(protocol, "tiny") == self.config["tiny"]:
            return self.tiny_model_dir("policy")
        first = self.owner(protocol, lambda p: stage_key(self.view(p, "tiny")))
        return f"{self.tiny_model_dir('policy')}_{first}"

    def model_dir(self, protocol: str, run: str) -> str:
        """Where a trained run's weights are: under the protocol that owns that training."""
        return f"{self.results}/models/{self.owner(protocol, self.train_key, run)}/{run}"

    # Model references.
    def built_model(self, path: str) -> ModelRef:
        """A model directory this pipeline writes (always safetensors)."""
        return ModelRef(path, None, [path], True)

    def model_ref(self, spec: dict, tiny_dir: str) -> ModelRef:
        """A configured model (Hub, local, tiny built in ``tiny_dir``, or our trained reward
        model). Pickled weights are refused (models.safetensors_only) unless the model's own
        allow_pickle says its pinned commit has none."""
        if spec["source"] == "trained":
            return self.built_model(f"{self.results}/models/reward")
        path, revision = model_source(spec, tiny_dir)
        tiny = spec["source"] == "tiny"
        safe = self.config["models"]["safetensors_only"] and (
            tiny or not spec.get("allow_pickle", False)
        )
        return ModelRef(path, revision, [path] if tiny else [], safe)

    def policy_ref(self, protocol: str) -> ModelRef:
        return self.model_ref(
            self.view(protocol, "models")["policy"], self.tiny_policy_dir(protocol)
        )

    def judge_ref(self) -> ModelRef:
        """The judge that scores responses (the run's: protocols may not change it)."""
        return self.model_ref(self.config["models"]["judge"], self.tiny_model_dir("judge"))

    def reward_base_ref(self) -> ModelRef:
        return self.model_ref(self.config["reward_model"]["base"], self.tiny_model_dir("judge"))

    def variant_ref(self, protocol: str, run: str) -> ModelRef:
        """A run's weights: Base is the policy itself, the others what training wrote."""
        if run == "base":
            return self.policy_ref(protocol)
        return self.built_model(self.model_dir(protocol, run))

    def start_ref(self, protocol: str, run: str) -> ModelRef:
        """Where a trained run starts: SFT and DPO from Base, SFT+DPO from the SFT model of
        the same seed."""
        variant, seed = split_run(run, self.seeds)
        start = run_name("sft", seed, self.seeds) if variant == "sft_dpo" else "base"
        if variant in METHODS:  # a method's start is configured (methods.<name>.start)
            start = run_name(self.view(protocol, "methods")[variant]["start"], seed, self.seeds)
        return self.variant_ref(protocol, start)

    def judge_start_ref(self, name: str) -> ModelRef:
        """A judge's configured model (where training starts, for a trained judge)."""
        judge = self.judges[name]
        return self.model_ref(judge["model"], f"{self.tiny_model_dir('judge')}_{name}")

    def extra_judge_ref(self, name: str) -> ModelRef:
        """The model a judge scores with: its own, or what rule train_judge made."""
        if self.judges[name]["train"]:
            return self.built_model(f"{self.results}/models/judges/{name}")
        return self.judge_start_ref(name)

    def training_section(self, protocol: str, section: str, run: str) -> str:
        """A protocol's training section with the run's seed, as JSON."""
        seed = split_run(run, self.seeds)[1]
        return section_json({**self.view(protocol, section), "seed": seed})

    def method_section(self, protocol: str, run: str) -> str:
        """A method's section with its seed, reward model and budget files, as JSON."""
        return section_json(method_job(self, protocol, run))

    # Score files.
    def score_keys(self, protocols=None, seeds=None) -> list[tuple[str, str, str]]:
        """(protocol, run, prompt set) of every score file, in table order."""
        return [
            (p, r, s)
            for p in (protocols or self.protocols)
            for r in self.runs(seeds)
            for s in PROMPT_SETS
        ]

    @staticmethod
    def score_file(root: str, protocol: str, run: str, prompt_set: str) -> str:
        return f"{root}/scores/{protocol}/{run}/{prompt_set}.csv"

    def score_path(self, root: str, protocol: str, run: str, prompt_set: str) -> str:
        """The score file a table reads: the owning protocol's (the audit's are its own)."""
        if root != self.audit:
            protocol = self.owner(protocol, self.evaluation_key, run)
        return self.score_file(root, protocol, run, prompt_set)

    def judge_score_file(self, judge: str, protocol: str, run: str, prompt_set: str) -> str:
        return f"{self.results}/scores/judges/{judge}/{protocol}/{run}/{prompt_set}.csv"

    def judged_files(self) -> tuple[list[tuple], list[str]]:
        """(keys, paths) of every judge's score files, the paper's judge first: (judge,
        protocol, run, prompt set) -> the file of the protocol that owns the evaluation."""
        first = self.config["judges"][0]["name"]
        keys = [(first, *k) for k in self.score_keys()]
        keys += [
            (j, *k) for j in self.judges for k in self.score_keys() if k[2] in self.judge_sets(j)
        ]
        paths = []
        for j, p, r, s in keys:
            if j == first:
                paths.append(self.score_path(self.results, p, r, s))
            else:
                paths.append(self.judge_score_file(j, self.owner(p, self.evaluation_key, r), r, s))
        return keys, paths

    def chosen_files(
        self, judge: str | None = None
    ) -> tuple[list[tuple[str, str, str]], list[str]]:
        """(keys, paths) of every judge's (or one judge's) scores of the dataset's chosen
        answers: (judge, protocol, prompt set) -> the file of the protocol that owns them
        (its prompts), the paper's judge first, in ``judged_files`` order."""
        first = self.config["judges"][0]["name"]
        keys = [(first, p, s) for p in self.protocols for s in PROMPT_SETS]
        keys += [(j, p, s) for j in self.judges for p in self.protocols for s in self.judge_sets(j)]
        keys = [k for k in keys if judge in (None, k[0])]
        paths = []
        for j, p, s in keys:
            owner = self.owner(p, self.chosen_key)
            if j == first:
                paths.append(self.score_file(self.results, owner, CHOSEN, s))
            else:
                paths.append(self.judge_score_file(j, owner, CHOSEN, s))
        return keys, paths

    def report_keys(self, root: str) -> list[tuple[str, str, str]]:
        """Score files behind the tables in ``root``: the run's, or the authors' release."""
        if root == self.audit:
            return self.score_keys(["paper"], [self.seeds[0]])
        return self.score_keys()

    def run_label(self, root: str) -> str:
        """What the run behind a report directory is (the audit holds the authors' own)."""
        return "" if root == self.audit else self.config["run_label"]

    # Training histories (Figure 5).
    def training_histories(self) -> dict[tuple[str, str], str]:
        """(protocol, run) -> log_history.json of every training job, each once (the reward
        model, when the judge is trained, as ("all", "reward"))."""
        out = {(p, r): f"{self.results}/train/{p}/{r}/log_history.json" for p, r in self.trained()}
        if self.config["models"]["judge"]["source"] == "trained":
            out[("all", "reward")] = f"{self.results}/train/reward/log_history.json"
        for name, judge in self.judges.items():
            if judge["train"]:
                out[("judges", name)] = f"{self.results}/train/judges/{name}/log_history.json"
        return out

    def authors_logs(self) -> list[str]:
        """The authors' logged losses for the paper protocol's curves (none without a paper
        protocol or with audit.train_logs null)."""
        if "paper" not in self.protocols or not self.config["audit"]["train_logs"]:
            return []
        return [f"{self.audit}/train_logs.csv"]

    def manifest_models(self) -> dict[str, tuple[dict, str]]:
        """role -> (model spec, the path it is read from) for the run manifest."""
        models: dict[str, tuple[dict, str]] = {}
        for p in self.protocols:  # one entry per distinct policy
            entry = (self.view(p, "models")["policy"], self.policy_ref(p).path)
            if entry not in models.values():
                models["policy" if not models else f"policy@{p}"] = entry
        models["judge"] = (self.config["models"]["judge"], self.judge_ref().path)
        for name, judge in self.judges.items():
            models[f"judge@{name}"] = (judge["model"], self.judge_start_ref(name).path)
        if self.config["models"]["judge"]["source"] == "trained":
            base = self.config["reward_model"]["base"]
            models["reward_model_base"] = (base, self.reward_base_ref().path)
        return models

    # Model cards.
    def model_cards(self) -> list[dict]:
        """One card per trained model (``cards.run_cards``)."""
        return run_cards(self)

    # Deliverables and targets.
    def judge_outputs(self) -> dict[str, str]:
        """What the judges comparison writes (rule compare_judges)."""
        out, figures = f"{self.results}/judges", f"{self.results}/figures"
        return {
            "judges_table1": f"{out}/table1.csv",
            "judges_thresholds": f"{out}/thresholds.csv",
            "judges_agreement": f"{out}/agreement.csv",
            "judges_claims": f"{out}/claims.csv",
            "judges_table1_html": f"{out}/table1.html",
            "judges_agreement_html": f"{out}/agreement.html",
            "judges_claims_html": f"{out}/claims.html",
            "judges_figure_pdf": f"{figures}/fig7_judges.pdf",
            "judges_figure_png": f"{figures}/fig7_judges.png",
        }

    def win_rate_files(self) -> dict[str, str]:
        """What the win rates against the dataset's chosen answers write (rule
        compute_win_rates)."""
        return {
            "win_rates": f"{self.results}/win_rates.csv",
            "win_rates_html": f"{self.results}/tables/win_rates.html",
        }

    # The report directories' files (hhalign.layout: rule output group -> key -> path).
    report_files = staticmethod(partial(laid_out, group="tables"))  # rule make_tables
    claims_files = staticmethod(partial(laid_out, group="claims"))  # rule make_claims
    response_files = staticmethod(partial(laid_out, group="responses"))  # audit_responses
    variance_files = staticmethod(partial(laid_out, group="variance"))  # decompose_variance
    label_files = staticmethod(partial(laid_out, group="labels"))  # write_label_sheet
    labelled_files = staticmethod(partial(laid_out, group="labelled"))  # judge_labels

    def label_targets(self) -> list[str]:
        """The label-dependent outputs: none without config ``labels``."""
        if not self.config.get("labels"):
            return []
        return list(self.labelled_files(self.results).values())

    def analysis_files(self, root: str) -> dict[str, str]:
        """The claims, the response audit and the variance decomposition of ``root``."""
        files = (self.claims_files, self.response_files, self.variance_files)
        return {k: v for f in files for k, v in f(root).items()}

    def figure_files(self, root: str, exts=("pdf", "png")) -> list[str]:
        return [f"{root}/figures/{fig}.{ext}" for fig in FIGURES for ext in exts]

    def default_targets(self) -> list[str]:
        """What `snakemake` builds with no target: every deliverable of the run."""
        results = self.results
        return [
            f"{results}/data/summary.json",
            *sorted({f"{self.prompts_dir(p)}/summary.json" for p in self.protocols}),
            *sorted({f"{results}/train/{p}/{r}/summary.json" for p, r in self.trained()}),
            *self.report_files(results).values(),
            *self.analysis_files(results).values(),
            *self.figure_files(results),
            f"{results}/manifest.json",
            *(self.judge_outputs().values() if self.judges else []),
            *self.win_rate_files().values(),
            *(c["out"] for c in self.model_cards()),
            *self.label_targets(),
        ]

    def report_targets(self) -> list[str]:
        """What the HTML report shows: every deliverable, the training and data figures,
        and the audit of the authors' released scores (audit.in_report)."""
        overview = [f"{self.results}/figures/{f}.png" for f in ("fig5_training", "fig6_data")]
        audit = []
        if self.config["audit"]["in_report"]:
            files = {**self.report_files(self.audit), **self.analysis_files(self.audit)}
            audit = [path for key, path in files.items() if key in REPORTED]
            audit += self.figure_files(self.audit, ("png",))
        release = []
        if self.config["release"]["in_report"]:
            release = [f"{self.results}/release_check/summary.html"]
        return [*self.default_targets(), *overview, *audit, *release]
