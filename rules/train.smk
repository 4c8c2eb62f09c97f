# Training stage: SFT, DPO (from base), SFT+DPO (DPO from SFT) and the reward model.
# Each runs as `{launcher} scripts/train_X.py`, so `training.launcher: accelerate` turns every
# job into a multi-process run (one process per GPU of the job's `gpu` resource) without
# editing a rule.


rule train_sft:
    input:
        code=code("train_sft.py"),
        entry=f"{workflow.basedir}/scripts/train_sft.py",
        data=rules.build_datasets.output.sft,
        start=local_model_input(config["models"]["policy"], tiny_model_dir("policy")),
    output:
        model=directory(f"{R}/models/{{protocol}}/sft"),
        history=f"{R}/train/{{protocol}}/sft/log_history.json",
        summary=f"{R}/train/{{protocol}}/sft/summary.json",
    log:
        f"{R}/logs/train_sft/{{protocol}}.log",
    benchmark:
        f"{R}/benchmarks/train_sft/{{protocol}}.tsv"
    conda:
        "../envs/train.yaml"
    threads: 2
    resources:
        gpu=1,
    params:
        section=lambda w: section_json(w.protocol, "sft"),
        start=policy_start()[0],
        revision=revision_arg(policy_start()[1]),
        checkpoints=f"{R}/checkpoints/{{protocol}}/sft",
        launch=lambda w, resources: launcher(resources.gpu),
        pickle=pickle_flag(config["models"]["policy"]),
    shell:
        "{params.launch} {input.entry} --section {params.section:q}"
        " --data {input.data} --start {params.start} {params.revision} --out {output.model}"
        " --checkpoints {params.checkpoints} --history {output.history}"
        " --summary {output.summary} --threads {threads} {params.pickle} > {log} 2>&1"


rule train_dpo:
    input:
        code=code("train_dpo.py"),
        entry=f"{workflow.basedir}/scripts/train_dpo.py",
        data=rules.build_datasets.output.dpo,
        start=lambda w: (
            [model_dir(w.protocol, "sft")]
            if w.variant == "sft_dpo"
            else local_model_input(
                config["models"]["policy"], tiny_model_dir("policy")
            )
        ),
    output:
        model=directory(f"{R}/models/{{protocol}}/{{variant}}"),
        adapter=directory(f"{R}/models/{{protocol}}/{{variant}}_adapter"),
        history=f"{R}/train/{{protocol}}/{{variant}}/log_history.json",
        summary=f"{R}/train/{{protocol}}/{{variant}}/summary.json",
    log:
        f"{R}/logs/train_dpo/{{protocol}}_{{variant}}.log",
    benchmark:
        f"{R}/benchmarks/train_dpo/{{protocol}}_{{variant}}.tsv"
    wildcard_constraints:
        variant="dpo|sft_dpo",
    conda:
        "../envs/train.yaml"
    threads: 2
    resources:
        gpu=1,
    params:
        section=lambda w: section_json(w.protocol, "dpo"),
        start=lambda w: variant_start(w.protocol, w.variant),
        revision=lambda w: (
            "" if w.variant == "sft_dpo" else revision_arg(policy_start()[1])
        ),
        checkpoints=f"{R}/checkpoints/{{protocol}}/{{variant}}",
        launch=lambda w, resources: launcher(resources.gpu),
        pickle=lambda w: (
            "" if w.variant == "sft_dpo" else pickle_flag(config["models"]["policy"])
        ),
    shell:
        "{params.launch} {input.entry} --section {params.section:q}"
        " --data {input.data} --start {params.start} {params.revision} --out {output.model}"
        " --adapter-out {output.adapter} --checkpoints {params.checkpoints}"
        " --history {output.history} --summary {output.summary} --threads {threads}"
        " {params.pickle} > {log} 2>&1"


rule train_reward_model:
    input:
        code=code("train_reward_model.py"),
        entry=f"{workflow.basedir}/scripts/train_reward_model.py",
        data=rules.build_datasets.output.dpo,
        start=local_model_input(config["reward_model"]["base"], tiny_model_dir("judge")),
    output:
        model=directory(f"{R}/models/reward"),
        history=f"{R}/train/reward/log_history.json",
        summary=f"{R}/train/reward/summary.json",
    log:
        f"{R}/logs/train_reward_model.log",
    benchmark:
        f"{R}/benchmarks/train_reward_model.tsv"
    conda:
        "../envs/train.yaml"
    threads: 2
    resources:
        gpu=1,
    params:
        section=json.dumps(config["reward_model"], sort_keys=True),
        start=model_source(config["reward_model"]["base"], tiny_model_dir("judge"))[0],
        revision=revision_arg(
            model_source(config["reward_model"]["base"], tiny_model_dir("judge"))[1]
        ),
        checkpoints=f"{R}/checkpoints/reward",
        launch=lambda w, resources: launcher(resources.gpu),
        pickle=pickle_flag(config["reward_model"]["base"]),
    shell:
        "{params.launch} {input.entry}"
        " --section {params.section:q} --data {input.data} --start {params.start}"
        " {params.revision} --out {output.model} --checkpoints {params.checkpoints}"
        " --history {output.history} --summary {output.summary} --threads {threads}"
        " {params.pickle} > {log} 2>&1"
