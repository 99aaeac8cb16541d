"""Analysis of finished (or running) runs: loading them, their statistics, the tables, and the renderers.

    runs.py        Run, loaded from a local run directory or from W&B
    stats.py       IQM, stratified bootstrap CIs, probability of improvement, area under the curve (rliable's methods)
    tables.py      the tables a report shows, each computed once: aggregates, P(improvement) for every pair, estimators
    render.py      Markdown, CSV, PNG panels, the HTML page and the W&B Report spec, from those tables
    report.py      the compare_estimators.py entry point: load, tabulate, render
    value_bias.py  a saved agent's critics against the soft return its policy collects (benchmarks/q_bias.py)
    latent.py      what a saved VAE latent keeps of each state dimension (benchmarks/vae_latent_dims.py)

Nothing in the maths or the machinery imports from here.
"""
