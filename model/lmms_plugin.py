"""lmms-eval entry point (`[project.entry-points."lmms_eval.models"] future_l1 = ...:manifests`).

Kept import-light: lmms-eval loads every plugin's manifests at startup, the model class only when chosen.
"""

from __future__ import annotations


def manifests():
    # lmms-eval calls this at startup, before any model or processor loads: the place to make the CUDA-only
    # torchvision wheel importable on CPU torch (a no-op where the project's .pth already did, or on CUDA torch)
    from future_l1.model import torchvision_cpu

    torchvision_cpu.install()
    from lmms_eval.models.registry_v2 import ModelManifest

    return [ModelManifest(model_id="future_l1", chat_class_path="future_l1.model.lmms_model.FutureL1")]
