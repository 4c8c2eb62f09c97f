"""Rule train_method: thin entry point for ORPO, SimPO, KTO and RLOO (hhalign.method_training);
runs under `accelerate launch` too."""

from hhalign.cli import main
from hhalign.method_training import train_method

main("train_method", train_method)
