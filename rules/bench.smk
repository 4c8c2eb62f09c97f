# Performance suite: every stage timed the authors' way and ours, on the same inputs, with
# random-weight models of the real architectures (bench.size: quick for CI). Not part of the
# default target: `snakemake --cores 2 results/bench/summary.csv`.


rule run_benchmark:
    input:
        code=code("run_benchmark.py"),
    output:
        summary=f"{RESULTS}/bench/summary.csv",
        estimate=f"{RESULTS}/bench/full_run_estimate.csv",
        environment=f"{RESULTS}/bench/environment.json",
        figure=f"{RESULTS}/bench/speedup.png",
        step_overhead=f"{RESULTS}/bench/step_overhead.csv",
        step_profile=f"{RESULTS}/bench/step_profile.csv",
    log:
        f"{RESULTS}/logs/run_benchmark.log",
    benchmark:
        f"{RESULTS}/benchmarks/run_benchmark.tsv"
    conda:
        "../envs/train.yaml"
    threads: 2
    resources:
        gpu=1,
    params:
        bench=config["bench"],
        sft=any_view("paper", "sft"),
        dpo=any_view("paper", "dpo"),
        generation=any_view("paper", "generation"),
        corrected={s: any_view("corrected", s) for s in ("sft", "dpo", "generation")},
        scoring=config["scoring"],
        methods=any_view("paper", "methods"),
    script:
        "../scripts/run_benchmark.py"
