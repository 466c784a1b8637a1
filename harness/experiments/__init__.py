"""Research experiments that run the whole product offline, each in its own subpackage with its own README.md.

`toy_vep`: `future-l1 experiment latent-vs-text`, does latent SFT beat text-only SFT on a toy video-event-prediction
task? They live in the top layer (harness) because they use every layer below: tasks, training, reports, the runner.
"""
