"""Log levels of a `future-l1` command: warnings and errors by default, `-v` info, `-vv` debug.

lmms-eval logs through loguru, whose default handler prints DEBUG lines (task YAML files that are not tasks, such as
`_futurebench_template.yaml`); transformers emits FutureWarnings about its own internals. Neither helps a user by
default. lmms-eval's "generation_kwargs specified through cli" warning is dropped below -vv: the harness passes a
suite's gen_kwargs through that parameter, so the warning names a CLI that was never used.
"""

from __future__ import annotations

import logging
import sys
import warnings

LEVELS = {0: "WARNING", 1: "INFO"}
NOT_FOR_USERS = ("generation_kwargs specified through cli",)


def configure(verbose: int | None) -> str:
    """Set loguru's, the standard logging's and the warnings' thresholds for `-v` × `verbose`; returns the level."""
    verbose = int(verbose or 0)
    level = LEVELS.get(verbose, "DEBUG")
    try:
        from loguru import logger

        logger.remove()
        logger.add(
            lambda message: sys.stderr.write(message),  # the stderr of the moment (tests redirect it)
            level=level,
            filter=lambda record: verbose >= 2 or not any(text in record["message"] for text in NOT_FOR_USERS),
            format="<level>{level: <8}</level> | {name}:{line} - {message}",
        )
    except ImportError:  # loguru comes with lmms-eval; without it there is nothing to quieten
        pass
    for name in ("transformers", "datasets", "accelerate", "httpx", "torch"):
        logging.getLogger(name).setLevel(level)
    if verbose == 0:
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
    return level
