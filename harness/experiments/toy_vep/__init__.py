"""`future-l1 experiment latent-vs-text`: does latent SFT beat text-only SFT? A minutes-long offline experiment
(README.md in this folder: the task, the result, the probes, what was tried).

It runs the product's own pipeline end to end, with no side paths. Modules, in the order the experiment uses them:

- `task`: the toy VEP task (one ball in straight flight; which quadrant at frame 12?) and its evaluation sets in the
  FutureBench schema (val and test: disjoint seeds), and the toy vocabulary's texts;
- `data`: its Future-L1-50K Format A training records;
- `vision`: the pretrained toy vision encoder (a real checkpoint's encoder knows where things are, a random one does
  not), frozen in SFT as in the paper;
- `settings`: the experiment's settings (quick and full modes), its arms and its result;
- `pipeline`: data → SFT (`training.sft.run_sft`) of the tiny Qwen3-VL (`model.tiny`) per seed, twice on the same
  data, text and steps: (a) latent SFT (the future frame becomes a latent span aligned to the frozen encoder's
  embedding, λ > 0) and (b) text-only SFT (the paper's baseline: reasoning frame dropped, λ = 0), in parallel
  processes, one thread each, with a vocabulary pruned to the toy's texts (`model.pruned_vocab`) and the question
  clip shown as the evaluation's video → evaluation through the harness (`Runner`, one run directory per model; the
  task `futurebench_future_l1` gets the toy set from `tasks.settings.active_data`) of (a), (b), (c) = (a) with
  latent decoding off, (d) the answer prior;
- `controls`: the reviewer's controls (issue 28): pause tokens, the information-matched chain of thought, the aux
  head (`training.aux_head`) and uninformative latents at inference;
- `analysis`: accuracy per arm, the paired comparisons of (a) with every other arm per seed, pooled over seeds and
  at the seed level (`reports.compare`: bootstrap interval, McNemar p; `reports.stats.t_interval` over seeds), and
  the probes;
- `probes`: does (a) answer from the future frame, does it imagine it, does it answer from what it imagined, and do
  (a) and (b) carry the future in their hidden state before the span;
- `report`: `experiment.md`, `result.json` and the product's report (leaderboard, plots, latent maps);
- `cli`: the command line.

Every stage resumes: a finished checkpoint or run is reused when the command is run again. `--quick` is the CI mode
(one seed, small sets); the default full mode is what the README reports. `--split val` evaluates on the validation
split, the only split used to choose the task, sizes, λ and L_max.
"""
