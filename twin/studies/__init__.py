"""Published data sets the framework is fitted to or checked against, one module per data set:
loader, model, fit and check (``flaura2018``: FLAURA, Soria et al. NEJM 2018; ``laleh2022``: the
Ghaffari Laleh et al. 2022 tumour-diameter series; ``oak2018_tgi``: population Stein fits of the OAK
arms from those series; ``oak2018``: OAK per-patient outcomes, Gandara et al. 2018). Modules load
on import of their own name; ``twin validate`` and ``tests/studies/`` run their checks."""
