"""Make the CUDA-only torchvision wheel importable next to CPU torch.

PyPI has no CPU build of torchvision. The CUDA build's `_meta_registrations` registers fake kernels for
`torchvision::nms`/`qnms`, ops that only its CUDA-linked `_C.so` defines, so `import torchvision` (and with it every
transformers image/video processor) dies with "operator torchvision::nms does not exist". Defining the two op
schemas before torchvision loads is enough: resize/normalize work, and nothing here needs nms.

`install()` adds an import hook that does this lazily, the first time anything imports torchvision, so loading this
module costs nothing. The project's install step drops a `.pth` file calling it into site-packages, which covers the
raw `lmms-eval` CLI too. On CUDA torch, or with a CPU torchvision, the hook does nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path

_LIBRARY = None  # keeps the torch.library.Library alive; the op schemas vanish with it


def _define_missing_ops() -> None:
    global _LIBRARY
    if _LIBRARY is not None:
        return
    import torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None or torch.version.cuda is not None:
        return
    version_file = Path(spec.origin).parent / "version.py"
    if not version_file.exists() or "+cu" not in version_file.read_text():
        return
    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _LIBRARY = lib


class _TorchvisionHook(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname == "torchvision":
            sys.meta_path.remove(self)
            _define_missing_ops()
        return None  # let the normal finders load the module


def install() -> None:
    """Idempotent; safe to call from anywhere before or after torchvision is imported."""
    if "torchvision" in sys.modules:
        return
    if not any(isinstance(f, _TorchvisionHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _TorchvisionHook())


PTH_NAME = "future_l1_torchvision_cpu.pth"


def write_pth(site_packages: Path | None = None) -> Path:
    """Write the `.pth` file that runs `install()` at interpreter start (for CLIs we do not own, e.g. `lmms-eval`)."""
    import sysconfig

    target = Path(site_packages or sysconfig.get_paths()["purelib"]) / PTH_NAME
    target.write_text("import future_l1.model.torchvision_cpu as m; m.install()\n")
    return target


if __name__ == "__main__":
    print(write_pth())
