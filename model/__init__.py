"""The bottom layer: the latent-interleaved decoder, its checkpoints and adapter, and what every layer above shares.

Shared leaves (they import nothing else from the project): `protocol` (latent tokens' neighbours: system prompt,
error prefix, architecture name), `tokens`, `cache`, `jsonl`, `distributed`, `torchvision_cpu`, `untrusted` (bounded
readers of user files), `cli_args` (checked command-line values). Importing a module installs nothing: the CPU
torchvision hook (`torchvision_cpu.install()`) is installed by the entry points that load processors (the `future-l1`
CLI, the lmms-eval model plugin, `processor.build_processor`) and, in the project's venv, by the `.pth` file `make`
writes.
"""
