# Evaluation stage: greedy responses of every variant to both prompt sets, scored by the judge.


rule generate_responses:
    input:
        prompts=f"{R}/prompts/{{protocol}}/{{prompt_set}}.jsonl",
        model=lambda w: variant_model_input(w.protocol, w.variant),
    output:
        responses=f"{R}/generations/{{protocol}}/{{variant}}/{{prompt_set}}.jsonl",
    log:
        f"{R}/logs/generate_responses/{{protocol}}_{{variant}}_{{prompt_set}}.log",
    benchmark:
        f"{R}/benchmarks/generate_responses/{{protocol}}_{{variant}}_{{prompt_set}}.tsv"
    conda:
        "../envs/evaluate.yaml"
    threads: 1
    params:
        generation=lambda w: view(w.protocol, "generation"),
        model=lambda w: variant_model(w.protocol, w.variant)[0],
        revision=lambda w: variant_model(w.protocol, w.variant)[1],
        safetensors_only=config["models"]["safetensors_only"],
    script:
        "../scripts/generate_responses.py"


rule score_responses:
    input:
        responses=rules.generate_responses.output.responses,
        judge=judge_input(),
    output:
        scores=score_path(R, "{protocol}", "{variant}", "{prompt_set}"),
    log:
        f"{R}/logs/score_responses/{{protocol}}_{{variant}}_{{prompt_set}}.log",
    benchmark:
        f"{R}/benchmarks/score_responses/{{protocol}}_{{variant}}_{{prompt_set}}.tsv"
    conda:
        "../envs/evaluate.yaml"
    threads: 1
    params:
        scoring=config["scoring"],
        judge=judge_model()[0],
        revision=judge_model()[1],
        safetensors_only=config["models"]["safetensors_only"],
    script:
        "../scripts/score_responses.py"
