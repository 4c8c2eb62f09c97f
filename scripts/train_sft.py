"""Rule train_sft: thin entry point; runs under `accelerate launch` too (rules/train.smk)."""

from hhalign.cli import main
from hhalign.sft import train_sft

main("train_sft", train_sft)
