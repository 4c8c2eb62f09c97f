"""Names of the results layout that both the run plan and the stages' file readers use,
in a module of their own so a stage that reads files does not depend on the plan (editing
``plan.py`` reruns no generation or scoring)."""

PROMPT_SETS = ("harmful", "helpful")
CHOSEN = "chosen"  # the dataset's chosen answers, scored like a model's responses
