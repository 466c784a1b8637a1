"""lmms-eval entry point (`[project.entry-points."lmms_eval.models"] future_l1 = ...:manifests`).

Kept import-light: lmms-eval loads every plugin's manifests at startup, the model class only when chosen.
"""

from __future__ import annotations


def manifests():
    from lmms_eval.models.registry_v2 import ModelManifest

    return [ModelManifest(model_id="future_l1", chat_class_path="future_l1.model.lmms_model.FutureL1")]
