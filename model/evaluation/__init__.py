"""Evaluation: quality and temporal-stability metrics against ground truth, and the seeded hole masks
used to score and train (``metrics``, ``mask_generators``). Nothing in the pipeline imports this package."""
