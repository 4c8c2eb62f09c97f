"""Rule train_judge: thin entry point (a judge beside the paper's, trained as the reward
model is, reading pairs as that judge reads responses); runs under `accelerate launch` too."""

from hhalign.cli import main
from hhalign.reward import train_reward

main("train_judge", train_reward)
