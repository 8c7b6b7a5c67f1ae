"""appwright: a guided, checkpointed, step-by-step engine for building and shipping apps.

The subpackages, each a top-level folder of the repository:

- `appwright.workflow` — the engine: the LangGraph route, runs and resumes, the agents, the CLI
- `appwright.steps` — the nine steps, each declared like a step page
- `appwright.prompts` — the steps' prompt cards (Markdown)
- `appwright.memory` — the SQLite memory store: runs, facts, step log, journal, payments
- `appwright.platforms` — the Run402 client, the wallet and x402 payments
- `appwright.sandbox` — a local Run402-compatible server over an embedded PostgreSQL

Nothing is imported here, so that `appwright runs` does not pay for LangGraph or the sandbox's server.
"""

__version__ = "0.1.0"
