"""Fitting: losses (pure functions), shape models, and the optimisation stages."""
