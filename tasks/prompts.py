"""Protocol strings of the official FutureBench / TwiFF-Bench evaluation, byte-identical.

These are facts of the benchmark protocol (changing one byte changes the numbers), so they are reproduced exactly and
guarded by sha256 in tests/tasks/test_tasks_prompts.py. Provenance of each string:

- FUTURE_L1_SYSTEM_PROMPT: defined in `future_l1.model.protocol` (the model needs it without the tasks) and
  re-exported here.
- TWIFF_COT_PROMPT: TwiFF's `COT_SYSTEM_PROMPT` (LiuJunhua02/TwiFF inference scripts; also the OpenGVLab/Future-L1
  lmms-eval fork `tasks/twiffbench/utils.py`), 379 chars, sha256 0ab600e3…; verified against both sources.
- TWIFF_JUDGE_SYSTEM_PROMPT: `system_prompt_template` of TwiFF `eval/TwiFFBench/gencot_vqa_eval.py` (identical in the
  Future-L1 fork), 1,381 chars, sha256 c0719853…; verified.
- FUTUREBENCH_* prompts: `lmms_eval_specific_kwargs` of the Future-L1 fork's futurebench*.yaml.
- TWIFFBENCH_* prompts: `lmms_eval_specific_kwargs` of the Future-L1 fork's twiffbench*.yaml (note the official
  doc_to_text `.strip()`s pre/post prompts before use; the strings below are already stripped).
"""

from __future__ import annotations

from future_l1.model.protocol import FUTURE_L1_SYSTEM_PROMPT  # noqa: F401  (re-exported: the benchmark's prompt set)

# --- FutureBench (pre_prompt, post_prompt) per task -------------------------------------------------------------
FUTUREBENCH_FUTURE_L1_POST_PROMPT = "Please provide only the single option letter within the <answer> </answer> tags."
FUTUREBENCH_DIRECT_POST_PROMPT = "\nAnswer with the option's letter from the given choices directly."
FUTUREBENCH_THINKING_PRE_PROMPT = (
    "You FIRST think about the reasoning process as an internal monologue and then provide the final answer.\n"
    "The reasoning process MUST BE enclosed within <reason> </reason> tags. After all thinking is complete, place the "
    "final answer inside `<answer>option's letter from the given choices</answer>`"
)

# --- TwiFF-Bench --------------------------------------------------------------------------------------------------
TWIFF_COT_PROMPT = (
    "You are an AI assistant capable of reasoning with visual imagery. You should conduct a detailed analysis of the "
    "question. Consider different angles, potential solutions, and reason through the problem step-by-step with "
    "image. After fully reasoning through the problem—potentially using image-based thinking—provide only a clear, "
    "concise, and direct answer to the user's question."
)
TWIFFBENCH_DIRECT_POST_PROMPT = (
    "Reason step by step about the question. After your reasoning, write the final answer wrapped in "
    "<answer>...</answer> tags."
)
TWIFFBENCH_THINKING_PRE_PROMPT = (
    "You FIRST think about the reasoning process as an internal monologue and then provide the final answer.\n"
    "The reasoning process MUST BE enclosed within <reason> </reason> tags. After all thinking is complete, place the "
    "final answer inside `<answer> </answer>`"
)

TWIFF_JUDGE_SYSTEM_PROMPT = (
    "You are a strict evaluator. You will have to evaluate the model response reasoning chain and answer based on the "
    "reference reasoning chain and ground truth answer.\n"
    "Given:\n"
    "    Question: The original forecasting question with image originates from the first video frame.\n"
    "    Reference Reasoning Chain: What actually happened, as a reference for the rationality of the reasoning "
    "chain.\n"
    "    Ground Truth Answer: The ground truth of the question.\n"
    "    Model Response Reasoning Chain: The model's reasoning chain.\n"
    "    Model Response Answer: The model's answer.\n"
    "The rating should base on the following rules:\n"
    "    Reasoning Chain Quality: Score 0-5 based on the logical coherence, completeness, and relevance of the "
    "reasoning (including appropriate use of multimodal information if present). The chain need not match the "
    "reference exactly but must be valid and support the final answer.\n"
    "    Answer Accuracy: Score 0-5 based on how well the final answer matches the ground truth answer. Full credit "
    "requires correctness and completeness; partial or incorrect answers receive lower scores.\n"
    "Put the score in a list such that output score = [score1, score2], where 'score1' evaluates the\n"
    "Reasoning Chain and 'score2' evaluates the Answer.\n"
    "You will have to give your output in the JSON format (Keep your reasoning concise and short.):\n"
    "{\n"
    '"reasoning": str #the score reasoning\n'
    '"score": List[int]\n'
    "}"
)
# Bump when the judge messages change (system prompt, layout, what is sent as ground truth): it keys the judge cache
# and is written into every per-sample result.
JUDGE_PROMPT_VERSION = "twiff-gencot-vqa-v1/gt-final-answer"
