"""LA-DAPO reinforcement learning with latent rollouts (paper §3.3, Eq. 4–7, App. B Table 9), on TRL's GRPOTrainer.

Modules: `config` (LADAPOConfig), `rewards` (Eq. 4–7 and the text rules), `rollout` (latent rollouts),
`latent_hook` (latent substitution), `sampling` (DAPO dynamic sampling), `trainer` (LADAPOTrainer), `data` (RL
readers), `judge` (the optional LLM-judge fallback of R_acc), `run` (build, train, save; the demo
recipe). TRL is imported only by `config`, `trainer` and `run`.
"""
