"""The EGFR-mutant NSCLC disease pack (the default): ``pack`` (:class:`EgfrNsclc`, what the twin
asks of the disease), ``model`` (``TwinModel``: the flagship model personalised by the tumour's
mutations, priors with sources), ``regimens`` (standard regimens and the one-line syntax),
``screen`` (the EGFR drug panel on the twin's clones), ``synthetic`` (patients from the prior),
``example`` and ``examples/`` (the shipped synthetic patient EX-001 and the script that made it)."""

from twin.diseases.egfr_nsclc.pack import EgfrNsclc

__all__ = ["EgfrNsclc"]
