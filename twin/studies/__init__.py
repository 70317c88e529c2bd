"""Published trials the flagship model is calibrated to or checked against, one module per trial
(``flaura2018``: FLAURA, Soria et al. NEJM 2018). Modules load on import of their own name."""
