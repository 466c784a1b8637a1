"""Entry point: lmms-eval calls manifests() at startup; the class is imported only when the model is chosen."""

from __future__ import annotations


def manifests():
    from lmms_eval.models.registry_v2 import ModelManifest

    return [ModelManifest(model_id="fl1_example", chat_class_path="fl1_example_plugin.model.FirstOptionModel")]
