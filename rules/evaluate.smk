# Evaluation stage: greedy responses of every variant to both prompt sets, scored by the judge.
# One job per (protocol, variant) loads its model once and answers both prompt sets; Snakemake
# still sees one output file per (variant, prompt set). The dataset's chosen answers are
# scored the same way, as the responses of a variant named "chosen" (the win rate's reference).


rule generate_responses:
    input:
        code=code("generate_responses.py"),
        harmful=lambda w: f"{PLAN.prompts_dir(w.protocol)}/harmful.jsonl",
        helpful=lambda w: f"{PLAN.prompts_dir(w.protocol)}/helpful.jsonl",
        model=lambda w: PLAN.variant_ref(w.protocol, w.variant).input,
    output:
        harmful=f"{RESULTS}/generations/{{protocol}}/{{variant}}/harmful.jsonl",
        helpful=f"{RESULTS}/generations/{{protocol}}/{{variant}}/helpful.jsonl",
    log:
        f"{RESULTS}/logs/generate_responses/{{protocol}}_{{variant}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/generate_responses/{{protocol}}_{{variant}}.tsv"
    wildcard_constraints:
        variant=VARIANTS,
    conda:
        "../envs/evaluate.yaml"
    threads: config["threads"]["evaluation"]
    resources:
        gpu=1,
    params:
        generation=lambda w: PLAN.view(w.protocol, "generation"),
        model=lambda w: PLAN.variant_ref(w.protocol, w.variant)._asdict(),
    script:
        "../scripts/generate_responses.py"


rule write_chosen_responses:
    input:
        code=code("write_chosen_responses.py"),
        harmful=lambda w: f"{PLAN.prompts_dir(w.protocol)}/harmful.jsonl",
        helpful=lambda w: f"{PLAN.prompts_dir(w.protocol)}/helpful.jsonl",
    output:
        harmful=f"{RESULTS}/generations/{{protocol}}/{CHOSEN}/harmful.jsonl",
        helpful=f"{RESULTS}/generations/{{protocol}}/{CHOSEN}/helpful.jsonl",
    log:
        f"{RESULTS}/logs/write_chosen_responses/{{protocol}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/write_chosen_responses/{{protocol}}.tsv"
    conda:
        "../envs/evaluate.yaml"
    script:
        "../scripts/write_chosen_responses.py"


rule score_responses:
    input:
        code=code("score_responses.py"),
        harmful=rules.generate_responses.output.harmful,
        helpful=rules.generate_responses.output.helpful,
        harmful_prompts=lambda w: f"{PLAN.prompts_dir(w.protocol)}/harmful.jsonl",
        helpful_prompts=lambda w: f"{PLAN.prompts_dir(w.protocol)}/helpful.jsonl",
        judge=PLAN.judge_ref().input,
    output:
        harmful=PLAN.score_file(RESULTS, "{protocol}", "{variant}", "harmful"),
        helpful=PLAN.score_file(RESULTS, "{protocol}", "{variant}", "helpful"),
    log:
        f"{RESULTS}/logs/score_responses/{{protocol}}_{{variant}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/score_responses/{{protocol}}_{{variant}}.tsv"
    wildcard_constraints:
        variant=SCORED,
    conda:
        "../envs/evaluate.yaml"
    threads: config["threads"]["evaluation"]
    resources:
        gpu=1,
    params:
        scoring=config["scoring"],
        judge=PLAN.judge_ref()._asdict(),
        samples=lambda w: responses_per_prompt(w.protocol),
    script:
        "../scripts/score_responses.py"


rule score_with_judge:
    input:
        code=code("score_with_judge.py"),
        harmful=rules.generate_responses.output.harmful,
        helpful=rules.generate_responses.output.helpful,
        harmful_prompts=lambda w: f"{PLAN.prompts_dir(w.protocol)}/harmful.jsonl",
        helpful_prompts=lambda w: f"{PLAN.prompts_dir(w.protocol)}/helpful.jsonl",
        judge=lambda w: PLAN.extra_judge_ref(w.judge).input,
    output:
        harmful=PLAN.judge_score_file("{judge}", "{protocol}", "{variant}", "harmful"),
        helpful=PLAN.judge_score_file("{judge}", "{protocol}", "{variant}", "helpful"),
    log:
        f"{RESULTS}/logs/score_with_judge/{{judge}}_{{protocol}}_{{variant}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/score_with_judge/{{judge}}_{{protocol}}_{{variant}}.tsv"
    wildcard_constraints:
        judge=judges_where(lambda n: PLAN.judge_sets(n) == list(PROMPT_SETS)),
        variant=SCORED,
    conda:
        "../envs/evaluate.yaml"
    threads: config["threads"]["evaluation"]
    resources:
        gpu=1,
    params:
        scoring=config["scoring"],
        judge=lambda w: reading(w.judge),
        model=lambda w: PLAN.extra_judge_ref(w.judge)._asdict(),
        samples=lambda w: responses_per_prompt(w.protocol),
    script:
        "../scripts/score_with_judge.py"


use rule score_with_judge as score_with_guard with:
    input:
        code=code("score_with_judge.py"),
        harmful=rules.generate_responses.output.harmful,
        harmful_prompts=lambda w: f"{PLAN.prompts_dir(w.protocol)}/harmful.jsonl",
        judge=lambda w: PLAN.extra_judge_ref(w.judge).input,
    output:
        harmful=PLAN.judge_score_file("{judge}", "{protocol}", "{variant}", "harmful"),
    log:
        f"{RESULTS}/logs/score_with_guard/{{judge}}_{{protocol}}_{{variant}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/score_with_guard/{{judge}}_{{protocol}}_{{variant}}.tsv"
    wildcard_constraints:
        judge=judges_where(lambda n: PLAN.judge_sets(n) == ["harmful"]),
        variant=SCORED,
