"""The bottom layer: the latent-interleaved decoder, its checkpoints and adapter, and what every layer above shares.

Shared leaves (they import nothing else from the project): `protocol` (latent tokens' neighbours: system prompt,
error prefix, architecture name), `tokens`, `cache`, `jsonl`, `torchvision_cpu`, `untrusted` (bounded readers of user
files), `cli_args` (checked command-line values). Importing any `future_l1.model`
module installs the CPU torchvision hook first, so transformers' processors load on CPU torch.
"""

from future_l1.model import torchvision_cpu

torchvision_cpu.install()
