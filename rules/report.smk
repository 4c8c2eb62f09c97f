# Report stage: Tables 1-2, LaTeX tables and macros, the response audit (Figure 9), the claims
# (Figure 4), where the uncertainty comes from (Figure 8), Figures 1-3, the
# training and data figures (5-6), the judges' comparison (Figure 7), the PDF report, the
# manifest, and the audit of the authors' released scores (the same code, under audit/).


rule make_tables:
    input:
        code=code("make_tables.py"),
        scores=report_score_files,
        prompt_sets=report_prompt_files,
    output:
        **reported(PLAN.report_files("{report_dir}")),
    log:
        "{report_dir}/logs/make_tables.log",
    benchmark:
        "{report_dir}/benchmarks/make_tables.tsv"
    conda:
        "../envs/report.yaml"
    params:
        **report_params(),
        metrics=config["metrics"],
        claims=config["claims"],
    script:
        "../scripts/make_tables.py"


rule plot_figures:
    input:
        code=code("plot_figures.py"),
        table1="{report_dir}/table1.csv",
        scores=report_score_files,
        prompt_sets=report_prompt_files,
    output:
        expand("{{report_dir}}/figures/{fig}.pdf", fig=FIGURES),
        [
            report(
                f"{{report_dir}}/figures/{fig}.png",
                caption=f"../report/{fig}.rst",
                category="Figures",
                subcategory="{report_dir}",
                labels={"figure": fig.split("_", 1)[1]},
            )
            for fig in FIGURES
        ],
    log:
        "{report_dir}/logs/plot_figures.log",
    benchmark:
        "{report_dir}/benchmarks/plot_figures.tsv"
    conda:
        "../envs/report.yaml"
    params:
        **report_params(),
        metrics=config["metrics"],
        stems=lambda w: [f"{w.report_dir}/figures/{f}" for f in FIGURES],
    script:
        "../scripts/plot_figures.py"


rule audit_responses:
    input:
        code=code("audit_responses.py"),
        scores=report_score_files,
        prompt_sets=report_prompt_files,
    output:
        **reported(PLAN.response_files("{report_dir}")),
    log:
        "{report_dir}/logs/audit_responses.log",
    benchmark:
        "{report_dir}/benchmarks/audit_responses.tsv"
    conda:
        "../envs/report.yaml"
    params:
        **report_params(),
        metrics=config["metrics"],
        response_audit=config["response_audit"],
        # The audit of the authors' release always gives its strict rates (Table 1's
        # companion: the points failing responses carry).
        strict=lambda w: config["response_audit"]["strict"] or w.report_dir == AUDIT,
        failing_continues=lambda w: {
            protocol: any_view(protocol, "response_audit")["failing_continues"]
            for protocol in (["paper"] if w.report_dir == AUDIT else PROTOCOLS)
        },
        judge=config["judges"][0]["name"],
    script:
        "../scripts/audit_responses.py"


rule make_claims:
    input:
        code=code("make_claims.py"),
        scores=report_score_files,
        responses="{report_dir}/responses.csv",
        prompt_sets=report_prompt_files,
        prompts=lambda w: [] if w.report_dir == AUDIT else prompt_summaries(),
        chosen=lambda w: (
            [] if w.report_dir == AUDIT else PLAN.chosen_files(MAIN_JUDGE)[1]
        ),
        labels=lambda w: labels_inputs(w)["labels"],
        key=lambda w: labels_inputs(w)["key"],
    output:
        **reported(PLAN.claims_files("{report_dir}")),
    log:
        "{report_dir}/logs/make_claims.log",
    benchmark:
        "{report_dir}/benchmarks/make_claims.tsv"
    conda:
        "../envs/report.yaml"
    params:
        **report_params(),
        chosen_keys=lambda w: (
            [] if w.report_dir == AUDIT else PLAN.chosen_files(MAIN_JUDGE)[0]
        ),
        claims={**config["claims"], **claims_extras(config)},
        metrics=config["metrics"],
        failing_continues=lambda w: {
            protocol: any_view(protocol, "response_audit")["failing_continues"]
            for protocol in (["paper"] if w.report_dir == AUDIT else PROTOCOLS)
        },
        figure_stem="{report_dir}/figures/fig4_thresholds",
        experiments=lambda w: [] if w.report_dir == AUDIT else PLAN.experiments,
        pool_protocols=lambda w: [] if w.report_dir == AUDIT else PROTOCOLS,
    script:
        "../scripts/make_claims.py"


rule decompose_variance:
    input:
        code=code("decompose_variance.py"),
        scores=report_score_files,
        prompt_sets=report_prompt_files,
    output:
        **reported(PLAN.variance_files("{report_dir}")),
    log:
        "{report_dir}/logs/decompose_variance.log",
    benchmark:
        "{report_dir}/benchmarks/decompose_variance.tsv"
    conda:
        "../envs/report.yaml"
    params:
        **report_params(),
        metrics=config["metrics"],
    script:
        "../scripts/decompose_variance.py"


rule plot_training:
    input:
        code=code("plot_training.py"),
        histories=lambda w: list(PLAN.training_histories().values()),
        authors=PLAN.authors_logs(),
        data=f"{RESULTS}/data/summary.json",
        prompts=prompt_summaries(),
    output:
        expand(f"{RESULTS}/figures/{{fig}}.pdf", fig=["fig5_training", "fig6_data"]),
        training=report(
            f"{RESULTS}/figures/fig5_training.png",
            caption="../report/fig5_training.rst",
            category="Training",
            labels={"figure": "training curves"},
        ),
        data=report(
            f"{RESULTS}/figures/fig6_data.png",
            caption="../report/fig6_data.rst",
            category="Data",
            labels={"figure": "data stage"},
        ),
    log:
        f"{RESULTS}/logs/plot_training.log",
    benchmark:
        f"{RESULTS}/benchmarks/plot_training.tsv"
    conda:
        "../envs/report.yaml"
    params:
        histories=lambda w: list(PLAN.training_histories()),
        protocols=PROTOCOLS,
        stems=[f"{RESULTS}/figures/fig5_training", f"{RESULTS}/figures/fig6_data"],
        label=config["run_label"],
    script:
        "../scripts/plot_training.py"


rule import_train_logs:
    input:
        code=code("import_train_logs.py"),
    output:
        f"{AUDIT}/train_logs.csv",
    log:
        f"{AUDIT}/logs/import_train_logs.log",
    benchmark:
        f"{AUDIT}/benchmarks/import_train_logs.tsv"
    conda:
        "../envs/report.yaml"
    params:
        source=config["audit"]["train_logs"],
    script:
        "../scripts/import_train_logs.py"


rule import_audit_scores:
    input:
        code=code("import_audit_scores.py"),
    output:
        [PLAN.score_file(AUDIT, *k) for k in PLAN.score_keys(["paper"], [SEEDS[0]])],
    log:
        f"{AUDIT}/logs/import_audit_scores.log",
    benchmark:
        f"{AUDIT}/benchmarks/import_audit_scores.tsv"
    conda:
        "../envs/report.yaml"
    params:
        sources=config["audit"],
        variants=config["variants"],
        score_keys=[(v, s) for _, v, s in PLAN.score_keys(["paper"], [SEEDS[0]])],
    script:
        "../scripts/import_audit_scores.py"


rule build_report:
    input:
        tex="paper/report.tex",
        tables=list(PLAN.report_files(RESULTS).values()),
        claims=list(PLAN.analysis_files(RESULTS).values()),
        figures=expand(f"{RESULTS}/figures/{{fig}}.pdf", fig=FIGURES),
        labels=PLAN.label_targets(),
    output:
        pdf=f"{RESULTS}/paper/report.pdf",
    log:
        f"{RESULTS}/logs/build_report.log",
    benchmark:
        f"{RESULTS}/benchmarks/build_report.tsv"
    conda:
        "../envs/report.yaml"
    params:
        results=lambda w, input: os.path.dirname(input.tables[0]),
    shell:
        "if ! command -v latexmk >/dev/null; then"
        " echo 'build_report needs latexmk and pdflatex: install TeX Live"
        " (Debian/Ubuntu: apt-get install latexmk texlive-latex-recommended;"
        " conda: conda install -c conda-forge texlive-core latexmk)' | tee {log} >&2;"
        " exit 1; fi; "
        "TEXINPUTS=$(realpath {params.results}):${{TEXINPUTS:-}} latexmk -pdf -interaction=nonstopmode"
        " -outdir=$(dirname {output.pdf}) {input.tex} > {log} 2>&1"


rule write_manifest:
    input:
        code=code("write_manifest.py"),
        scores=[PLAN.score_path(RESULTS, *k) for k in PLAN.score_keys()],
    output:
        manifest=f"{RESULTS}/manifest.json",
    log:
        f"{RESULTS}/logs/write_manifest.log",
    benchmark:
        f"{RESULTS}/benchmarks/write_manifest.tsv"
    conda:
        "../envs/report.yaml"
    params:
        config=config,
        models=PLAN.manifest_models(),
        raw_files=PLAN.raw_file_keys(),
        basedir=lambda w, input: str(Path(input.code[0]).parents[1]),
    script:
        "../scripts/write_manifest.py"


rule compare_judges:
    input:
        code=code("compare_judges.py"),
        scores=PLAN.judged_files()[1],
        prompt_sets=PROMPT_FILES,
        claims=PLAN.claims_files(RESULTS)["claims"],
    output:
        **reported(PLAN.judge_outputs(), subcategory=RESULTS),
    log:
        f"{RESULTS}/logs/compare_judges.log",
    benchmark:
        f"{RESULTS}/benchmarks/compare_judges.tsv"
    conda:
        "../envs/report.yaml"
    params:
        score_keys=PLAN.judged_files()[0],
        prompt_keys=PROMPT_KEYS,
        guards=GUARDS,
        seeds=SEEDS,
        judges=config["judges"],
        metrics=config["metrics"],
        figure_stem=lambda w, output: output.judges_figure_png.removesuffix(".png"),
        label=config["run_label"],
    script:
        "../scripts/compare_judges.py"


rule compute_win_rates:
    input:
        code=code("compute_win_rates.py"),
        scores=PLAN.judged_files()[1],
        chosen=PLAN.chosen_files()[1],
        prompt_sets=PROMPT_FILES,
    output:
        **reported(PLAN.win_rate_files(), subcategory=RESULTS),
    log:
        f"{RESULTS}/logs/compute_win_rates.log",
    benchmark:
        f"{RESULTS}/benchmarks/compute_win_rates.tsv"
    conda:
        "../envs/report.yaml"
    params:
        score_keys=PLAN.judged_files()[0],
        chosen_keys=PLAN.chosen_files()[0],
        prompt_keys=PROMPT_KEYS,
        guards=GUARDS,
        seeds=SEEDS,
        claims=config["claims"],
        variants=config["variants"],
        label=config["run_label"],
    script:
        "../scripts/compute_win_rates.py"


rule write_model_cards:
    input:
        code=code("write_model_cards.py"),
        table1=f"{RESULTS}/table1.csv",
        claims=f"{RESULTS}/claims.csv",
        data=f"{RESULTS}/data/summary.json",
        summaries=[c["summary"] for c in PLAN.model_cards()],
    output:
        [c["out"] for c in PLAN.model_cards()],
    log:
        f"{RESULTS}/logs/write_model_cards.log",
    benchmark:
        f"{RESULTS}/benchmarks/write_model_cards.tsv"
    conda:
        "../envs/report.yaml"
    params:
        cards=PLAN.model_cards(),
        source=config["data"]["source"],
        label=config["run_label"],
    script:
        "../scripts/write_model_cards.py"


rule write_transcripts:
    input:
        code=code("write_transcripts.py"),
        responses=PLAN.response_files(RESULTS)["responses"],
    output:
        [
            report(
                path,
                caption="../report/transcript.rst",
                category="Transcripts",
                subcategory=f"{protocol} protocol",
                labels={"model": run, "prompts": prompt_set},
            )
            for (protocol, run, prompt_set), path in TRANSCRIPTS.items()
        ],
    log:
        f"{RESULTS}/logs/write_transcripts.log",
    benchmark:
        f"{RESULTS}/benchmarks/write_transcripts.tsv"
    conda:
        "../envs/report.yaml"
    params:
        pages=list(TRANSCRIPTS),
        label=config["run_label"],
    script:
        "../scripts/write_transcripts.py"
