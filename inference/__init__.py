"""Bayesian calibration of mechanistic models to patient data (numpyro). Empty until the
calibration issue lands; nothing here is public yet."""
