# Training stage: SFT, DPO (from base), SFT+DPO (DPO from SFT), the methods beside them
# (ORPO, SimPO, KTO, RLOO: rule train_method, when `variants` lists them) and the reward model.
# Each runs as `{launcher} scripts/train_X.py`, so `training.launcher: accelerate` turns every
# job into a multi-process run (one process per GPU of the job's `gpu` resource) without
# editing a rule.


rule train_sft:
    input:
        code=code("train_sft.py"),
        entry=code("train_sft.py")[0],
        data=rules.build_datasets.output.sft,
        start=lambda w: PLAN.start_ref(w.protocol, w.variant).input,
    output:
        model=directory(f"{RESULTS}/models/{{protocol}}/{{variant}}"),
        history=f"{RESULTS}/train/{{protocol}}/{{variant}}/log_history.json",
        summary=f"{RESULTS}/train/{{protocol}}/{{variant}}/summary.json",
    log:
        f"{RESULTS}/logs/train_sft/{{protocol}}_{{variant}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_sft/{{protocol}}_{{variant}}.tsv"
    wildcard_constraints:
        variant=r"sft(_seed\d+)?",
    conda:
        "../envs/train.yaml"
    threads: config["threads"]["training"]
    resources:
        gpu=1,
    params:
        **training_params(
            lambda w: PLAN.training_section(w.protocol, "sft", w.variant),
            lambda w: PLAN.start_ref(w.protocol, w.variant).args(),
            f"{RESULTS}/checkpoints/{{protocol}}/{{variant}}",
        ),
    shell:
        TRAIN_COMMAND


rule clean_pairs:
    input:
        code=code("clean_pairs.py"),
        pairs=rules.build_datasets.output.dpo,
        judge=PLAN.judge_ref().input,
    output:
        pairs=f"{RESULTS}/data/dpo_clean.parquet",
        dropped=f"{RESULTS}/data/dpo_dropped.csv",
        summary=f"{RESULTS}/data/clean_summary.json",
    log:
        f"{RESULTS}/logs/clean_pairs.log",
    benchmark:
        f"{RESULTS}/benchmarks/clean_pairs.tsv"
    conda:
        "../envs/evaluate.yaml"
    threads: config["threads"]["training"]
    resources:
        gpu=1,
    params:
        judge=PLAN.judge_ref()._asdict(),
        scoring=config["scoring"],
        margin=config["clean_pairs"]["margin"],
    script:
        "../scripts/clean_pairs.py"


rule train_dpo:
    input:
        code=code("train_dpo.py"),
        entry=code("train_dpo.py")[0],
        data=lambda w: (
            rules.clean_pairs.output.pairs
            if PLAN.view(w.protocol, "dpo")["clean_pairs"]
            else rules.build_datasets.output.dpo
        ),
        start=lambda w: PLAN.start_ref(w.protocol, w.variant).input,
    output:
        model=directory(f"{RESULTS}/models/{{protocol}}/{{variant}}"),
        adapter=directory(f"{RESULTS}/models/{{protocol}}/{{variant}}_adapter"),
        history=f"{RESULTS}/train/{{protocol}}/{{variant}}/log_history.json",
        summary=f"{RESULTS}/train/{{protocol}}/{{variant}}/summary.json",
    log:
        f"{RESULTS}/logs/train_dpo/{{protocol}}_{{variant}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_dpo/{{protocol}}_{{variant}}.tsv"
    wildcard_constraints:
        variant=r"(dpo|sft_dpo)(_seed\d+)?",
    conda:
        "../envs/train.yaml"
    threads: config["threads"]["training"]
    resources:
        gpu=1,
    params:
        **training_params(
            lambda w: PLAN.training_section(w.protocol, "dpo", w.variant),
            lambda w: PLAN.start_ref(w.protocol, w.variant).args(),
            f"{RESULTS}/checkpoints/{{protocol}}/{{variant}}",
            lambda w, output: f"--adapter-out {output.adapter}",
        ),
    shell:
        TRAIN_COMMAND


rule train_method:
    input:
        code=code("train_method.py"),
        entry=code("train_method.py")[0],
        data=rules.build_datasets.output.dpo,
        start=lambda w: PLAN.start_ref(w.protocol, w.variant).input,
        extra=lambda w: method_inputs(PLAN, w.protocol, w.variant),
    output:
        model=directory(f"{RESULTS}/models/{{protocol}}/{{variant}}"),
        adapter=directory(f"{RESULTS}/models/{{protocol}}/{{variant}}_adapter"),
        history=f"{RESULTS}/train/{{protocol}}/{{variant}}/log_history.json",
        summary=f"{RESULTS}/train/{{protocol}}/{{variant}}/summary.json",
    log:
        f"{RESULTS}/logs/train_method/{{protocol}}_{{variant}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_method/{{protocol}}_{{variant}}.tsv"
    wildcard_constraints:
        variant=r"(orpo|simpo|kto|rloo)(_seed\d+)?",
    conda:
        "../envs/train.yaml"
    threads: config["threads"]["training"]
    resources:
        gpu=1,
    params:
        **training_params(
            lambda w: PLAN.method_section(w.protocol, w.variant),
            lambda w: PLAN.start_ref(w.protocol, w.variant).args(),
            f"{RESULTS}/checkpoints/{{protocol}}/{{variant}}",
            lambda w, output: f"--adapter-out {output.adapter}",
        ),
    shell:
        TRAIN_COMMAND


rule train_reward_model:
    input:
        code=code("train_reward_model.py"),
        entry=code("train_reward_model.py")[0],
        data=rules.build_datasets.output.dpo,
        start=PLAN.reward_base_ref().input,
    output:
        model=directory(f"{RESULTS}/models/reward"),
        history=f"{RESULTS}/train/reward/log_history.json",
        summary=f"{RESULTS}/train/reward/summary.json",
    log:
        f"{RESULTS}/logs/train_reward_model.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_reward_model.tsv"
    conda:
        "../envs/train.yaml"
    threads: config["threads"]["training"]
    resources:
        gpu=1,
    params:
        **training_params(
            section_json(config["reward_model"]),
            PLAN.reward_base_ref().args(),
            f"{RESULTS}/checkpoints/reward",
        ),
    shell:
        TRAIN_COMMAND


rule train_judge:
    input:
        code=code("train_judge.py"),
        entry=code("train_judge.py")[0],
        data=rules.build_datasets.output.dpo,
        start=lambda w: PLAN.judge_start_ref(w.judge).input,
    output:
        model=directory(f"{RESULTS}/models/judges/{{judge}}"),
        history=f"{RESULTS}/train/judges/{{judge}}/log_history.json",
        summary=f"{RESULTS}/train/judges/{{judge}}/summary.json",
    log:
        f"{RESULTS}/logs/train_judge/{{judge}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_judge/{{judge}}.tsv"
    wildcard_constraints:
        judge=judges_where(lambda n: JUDGES[n]["train"]),
    conda:
        "../envs/train.yaml"
    threads: config["threads"]["training"]
    resources:
        gpu=1,
    params:
        **training_params(
            section_json(config["reward_model"]),
            lambda w: PLAN.judge_start_ref(w.judge).args(),
            f"{RESULTS}/checkpoints/judges/{{judge}}",
            lambda w: f"--judge-kind {JUDGES[w.judge]['kind']}",
        ),
    shell:
        TRAIN_COMMAND
