"""This process's place in a data-parallel job, as `torchrun` / `accelerate launch` set it in the environment.

The one reader of RANK, WORLD_SIZE and LOCAL_RANK (the harness's runner and the lmms-eval adapter both use it).
Outside a launcher: rank 0 of 1. A leaf: it imports nothing from the project.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Place:
    rank: int  # global rank
    world_size: int
    local_rank: int  # rank on this host: the GPU index a process takes


def place() -> Place:
    rank = int(os.environ.get("RANK", "0"))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    return Place(rank, world_size, int(os.environ.get("LOCAL_RANK", str(rank))))
