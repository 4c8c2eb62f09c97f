# A reviewer's own labels: the blind sample to label (make label) and, with config labels,
# the judge against people and judge-corrected rates (rule judge_labels; off without labels,
# so that a normal run's DAG is unchanged).


rule write_label_sheet:
    input:
        code=code("write_label_sheet.py"),
        scores=[PLAN.score_path(RESULTS, *k) for k in PLAN.report_keys(RESULTS)],
    output:
        **PLAN.label_files(RESULTS),
    log:
        f"{RESULTS}/logs/write_label_sheet.log",
    benchmark:
        f"{RESULTS}/benchmarks/write_label_sheet.tsv"
    conda:
        "../envs/report.yaml"
    params:
        score_keys=PLAN.report_keys(RESULTS),
        seeds=SEEDS,
        sample=config["label_sheet"],
        label=config["run_label"],
    script:
        "../scripts/write_label_sheet.py"


rule judge_labels:
    input:
        code=code("judge_labels.py"),
        scores=[PLAN.score_path(RESULTS, *k) for k in PLAN.report_keys(RESULTS)],
        responses=PLAN.response_files(RESULTS)["responses"],
        key=PLAN.label_files(RESULTS)["key"],
        labels=config["labels"] or [],
    output:
        **reported(PLAN.labelled_files(RESULTS), subcategory=RESULTS),
    log:
        f"{RESULTS}/logs/judge_labels.log",
    benchmark:
        f"{RESULTS}/benchmarks/judge_labels.tsv"
    conda:
        "../envs/report.yaml"
    params:
        score_keys=PLAN.report_keys(RESULTS),
        seeds=SEEDS,
        variants=config["variants"],
        metrics=config["metrics"],
        width=config["label_sheet"]["width"],
        label=config["run_label"],
    script:
        "../scripts/judge_labels.py"
