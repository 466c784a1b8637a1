"""Protocol constants that the model, the tasks and training share. A leaf: it imports nothing from the project.

- FUTURE_L1_SYSTEM_PROMPT: the Future-L1 SFT and evaluation system prompt (548 chars, sha256 3aeddfd1…; the text of
  the paper's Figure 10). Byte-exact, because changing one byte changes the benchmark numbers; guarded by sha256 in
  tests/tasks/test_tasks_prompts.py.
- ERROR_PREFIX: how a model-side failure (corrupt video, missing file) travels inside a response to the task, which
  counts it as an error instead of scoring it.
- ARCHITECTURE: the `architectures` entry of a Future-L1 checkpoint's config.json, as the published checkpoints
  spell it (OpenGVLab/Future-L1 `config.json`).
"""

from __future__ import annotations

FUTURE_L1_SYSTEM_PROMPT = (
    "You are a multimodal reasoning assistant capable of thinking in textual and visual modes.\n\n\n"
    "Use the following tags to switch your thinking mode:\n\n"
    "1.  **Textual Mode**: `<reason>Your textual reasoning process</reason>`\n"
    "    *   For logical analysis, planning, and verbal thought.\n\n"
    "2.  **Visual Mode**: `<|latent_start|>Your visual reasoning process<|latent_end|>`\n"
    "    *   For mental visualization, imagination and simulation.\n\n\n"
    "**Output Rules**:\n"
    "*   After all thinking is complete, place the final answer inside `<answer>Your Final Answer</answer>`.\n"
)

ERROR_PREFIX = "[future-l1 error] "

ARCHITECTURE = "FutureL1_Qwen3VL"
