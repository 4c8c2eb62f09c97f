# Data stage: raw HH-RLHF files, the SFT/DPO training sets, the evaluation prompts, the tiny world.


rule fetch_raw_data:
    input:
        code=code("fetch_raw_data.py"),
    output:
        raw=f"{R}/data/raw/{{subset}}/{{split}}.jsonl.gz",
    log:
        f"{R}/logs/fetch_raw_data/{{subset}}_{{split}}.log",
    benchmark:
        f"{R}/benchmarks/fetch_raw_data/{{subset}}_{{split}}.tsv"
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
        raw=train_raw_files(),
    output:
        sft=f"{R}/data/sft.parquet",
        dpo=f"{R}/data/dpo.parquet",
        rejects=f"{R}/data/rejects.jsonl",
        summary=f"{R}/data/summary.json",
    log:
        f"{R}/logs/build_datasets.log",
    benchmark:
        f"{R}/benchmarks/build_datasets.tsv"
    conda:
        "../envs/data.yaml"
    params:
        data=config["data"],
    script:
        "../scripts/build_datasets.py"


rule select_prompts:
    input:
        code=code("select_prompts.py"),
        harmful=lambda w: prompt_raw_file(w.protocol, "harmful"),
        helpful=lambda w: prompt_raw_file(w.protocol, "helpful"),
    output:
        harmful=f"{R}/prompts/{{protocol}}/harmful.jsonl",
        helpful=f"{R}/prompts/{{protocol}}/helpful.jsonl",
        rejects=f"{R}/prompts/{{protocol}}/rejects.jsonl",
        summary=f"{R}/prompts/{{protocol}}/summary.json",
    log:
        f"{R}/logs/select_prompts/{{protocol}}.log",
    benchmark:
        f"{R}/benchmarks/select_prompts/{{protocol}}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        prompts=lambda w: view(w.protocol, "prompts"),
    script:
        "../scripts/select_prompts.py"


rule build_tiny_models:
    input:
        code=code("build_tiny_models.py"),
        raw=train_raw_files(),
    output:
        policy=directory(tiny_model_dir("policy")),
        judge=directory(tiny_model_dir("judge")),
    log:
        f"{R}/logs/build_tiny_models.log",
    benchmark:
        f"{R}/benchmarks/build_tiny_models.tsv"
    conda:
        "../envs/train.yaml"
    threads: 1
    params:
        tiny=config["tiny"],
    script:
        "../scripts/build_tiny_models.py"
