"""Rule train_reward_model: thin entry point; runs under `accelerate launch` too."""

from hhalign.cli import main
from hhalign.reward import train_reward

main("train_reward_model", train_reward)
