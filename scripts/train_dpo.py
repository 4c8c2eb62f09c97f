"""Rule train_dpo: thin entry point for DPO and SFT+DPO; runs under `accelerate launch` too."""

from hhalign.cli import main
from hhalign.dpo import train_dpo

main("train_dpo", train_dpo)
