"""Training: trainer loop, losses with prefactor schedules, learning rates, checkpoints, logs."""
