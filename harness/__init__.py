"""The `future-l1` command: suites, runs, resume and the CLI. Kept import-light (version and the torchvision hook)."""

from future_l1.harness import torchvision_cpu

__version__ = "0.1.0"

torchvision_cpu.install()
