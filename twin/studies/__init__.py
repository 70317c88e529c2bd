"""Published data sets the framework is fitted to or checked against, one module per data set:
loader, model, fit and check (``flaura2018``: FLAURA, Soria et al. NEJM 2018; ``laleh2022``: the
Ghaffari Laleh et al. 2022 tumour-diameter series and its six-law comparison;
``laleh2022_hierarchical``: the hierarchical forecast from the first scans; ``vaghi2020``: the
tumour-age back-prediction of Vaghi et al. 2020; ``oak2018_tgi``: population Stein fits of the OAK
arms from those series; ``oak2018``: OAK per-patient outcomes, Gandara et al. 2018; ``strobl2021``:
adaptive vs continuous therapy under the Strobl et al. 2021 Lotka-Volterra model; ``strobl2021_fits``:
the authors' fits of that model to the Bruchovsky 2006 patients and the population prior from them;
``eigenmann2016``: the Eigenmann et al. 2016 mouse PK-TGI data and its held-out check). Modules
load on import of their own name; ``twin validate`` and ``tests/studies/`` run their checks."""
