# Data stage: raw HH-RLHF files, the SFT/DPO training sets, the evaluation prompts, the tiny world.


rule fetch_raw_data:
    input:
        code=code("fetch_raw_data.py"),
        local=lambda w: PLAN.local_raw_file(w.subset, w.split),
    output:
        raw=f"{RESULTS}/data/raw/{{subset}}/{{split}}.jsonl.gz",
    log:
        f"{RESULTS}/logs/fetch_raw_data/{{subset}}_{{split}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/fetch_raw_data/{{subset}}_{{split}}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        data=config["data"],
        synthetic=(
            config["synthetic"] if config["data"]["source"] == "synthetic" else None
        ),
    script:
        "../scripts/fetch_raw_data.py"


rule build_datasets:
    input:
        code=code("build_datasets.py"),
        raw=PLAN.train_raw_files(),
    output:
        sft=f"{RESULTS}/data/sft.parquet",
        dpo=f"{RESULTS}/data/dpo.parquet",
        rejects=f"{RESULTS}/data/rejects.jsonl",
        summary=f"{RESULTS}/data/summary.json",
    log:
        log=f"{RESULTS}/logs/build_datasets.log",
        rejects=f"{RESULTS}/logs/build_datasets_rejects.jsonl",
    benchmark:
        f"{RESULTS}/benchmarks/build_datasets.tsv"
    conda:
        "../envs/data.yaml"
    params:
        data=config["data"],
    script:
        "../scripts/build_datasets.py"


rule select_prompts:
    input:
        code=code("select_prompts.py"),
        harmful=lambda w: PLAN.prompt_raw_file(w.protocol, "harmful"),
        helpful=lambda w: PLAN.prompt_raw_file(w.protocol, "helpful"),
    output:
        harmful=f"{RESULTS}/prompts/{{protocol}}/harmful.jsonl",
        helpful=f"{RESULTS}/prompts/{{protocol}}/helpful.jsonl",
        rejects=f"{RESULTS}/prompts/{{protocol}}/rejects.jsonl",
        summary=f"{RESULTS}/prompts/{{protocol}}/summary.json",
    log:
        f"{RESULTS}/logs/select_prompts/{{protocol}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/select_prompts/{{protocol}}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        prompts=lambda w: PLAN.view(w.protocol, "prompts"),
        data_format=config["data"]["format"],
    script:
        "../scripts/select_prompts.py"


rule build_tiny_tokenizer:
    input:
        code=code("build_tiny_tokenizer.py"),
        raw=PLAN.train_raw_files(),
    output:
        bpe=f"{PLAN.tiny_model_dir('tokenizer')}/bpe.json",
    log:
        f"{RESULTS}/logs/build_tiny_tokenizer.log",
    benchmark:
        f"{RESULTS}/benchmarks/build_tiny_tokenizer.tsv"
    conda:
        "../envs/train.yaml"
    params:
        vocab_size=config["tiny"]["vocab_size"],
        data_format=config["data"]["format"],
    script:
        "../scripts/build_tiny_tokenizer.py"


rule build_tiny_models:
    input:
        code=code("build_tiny_models.py"),
        bpe=rules.build_tiny_tokenizer.output.bpe,
    output:
        policy=directory(PLAN.tiny_model_dir("policy")),
        judge=directory(PLAN.tiny_model_dir("judge")),
    log:
        f"{RESULTS}/logs/build_tiny_models.log",
    benchmark:
        f"{RESULTS}/benchmarks/build_tiny_models.tsv"
    conda:
        "../envs/train.yaml"
    threads: 1
    params:
        tiny=config["tiny"],
    script:
        "../scripts/build_tiny_models.py"


rule build_tiny_policy:
    input:
        code=code("build_tiny_policy.py"),
        bpe=rules.build_tiny_tokenizer.output.bpe,
    output:
        policy=directory(f"{PLAN.tiny_model_dir('policy')}_{{protocol}}"),
    log:
        f"{RESULTS}/logs/build_tiny_policy/{{protocol}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/build_tiny_policy/{{protocol}}.tsv"
    conda:
        "../envs/train.yaml"
    threads: 1
    params:
        tiny=lambda w: PLAN.view(w.protocol, "tiny"),
    script:
        "../scripts/build_tiny_policy.py"


rule build_tiny_judge:
    input:
        code=code("build_tiny_judge.py"),
        bpe=rules.build_tiny_tokenizer.output.bpe,
    output:
        judge=directory(f"{PLAN.tiny_model_dir('judge')}_{{judge}}"),
    log:
        f"{RESULTS}/logs/build_tiny_judge/{{judge}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/build_tiny_judge/{{judge}}.tsv"
    wildcard_constraints:
        judge=judges_where(lambda n: JUDGES[n]["model"]["source"] == "tiny"),
    conda:
        "../envs/train.yaml"
    threads: 1
    params:
        tiny=config["tiny"],
        judge=lambda w: reading(w.judge),
    script:
        "../scripts/build_tiny_judge.py"
