# Evaluation stage: greedy responses of every variant to both prompt sets, scored by the judge.
# One job per (protocol, variant) loads its model once and answers both prompt sets; Snakemake
# still sees one output file per (variant, prompt set).


rule generate_responses:
    input:
        code=code("generate_responses.py"),
        harmful=f"{R}/prompts/{{protocol}}/harmful.jsonl",
        helpful=f"{R}/prompts/{{protocol}}/helpful.jsonl",
        model=lambda w: variant_model_input(w.protocol, w.variant),
    output:
        harmful=f"{R}/generations/{{protocol}}/{{variant}}/harmful.jsonl",
        helpful=f"{R}/generations/{{protocol}}/{{variant}}/helpful.jsonl",
    log:
        f"{R}/logs/generate_responses/{{protocol}}_{{variant}}.log",
    benchmark:
        f"{R}/benchmarks/generate_responses/{{protocol}}_{{variant}}.tsv"
    conda:
        "../envs/evaluate.yaml"
    threads: 2
    resources:
        gpu=1,
    params:
        generation=lambda w: view(w.protocol, "generation"),
        model=lambda w: variant_model(w.protocol, w.variant)[0],
        revision=lambda w: variant_model(w.protocol, w.variant)[1],
        safetensors_only=safetensors_only(config["models"]["policy"]),
    script:
        "../scripts/generate_responses.py"


rule score_responses:
    input:
        code=code("score_responses.py"),
        harmful=rules.generate_responses.output.harmful,
        helpful=rules.generate_responses.output.helpful,
        judge=judge_input(),
    output:
        harmful=score_path(R, "{protocol}", "{variant}", "harmful"),
        helpful=score_path(R, "{protocol}", "{variant}", "helpful"),
    log:
        f"{R}/logs/score_responses/{{protocol}}_{{variant}}.log",
    benchmark:
        f"{R}/benchmarks/score_responses/{{protocol}}_{{variant}}.tsv"
    conda:
        "../envs/evaluate.yaml"
    threads: 2
    resources:
        gpu=1,
    params:
        scoring=config["scoring"],
        judge=judge_model()[0],
        revision=judge_model()[1],
        safetensors_only=safetensors_only(config["models"]["judge"]),
    script:
        "../scripts/score_responses.py"
