"""Metastatic castration-resistant prostate cancer under abiraterone, followed by PSA: the
second disease pack (see :mod:`twin.diseases.prostate.pack`)."""

from twin.diseases.prostate.pack import Prostate

__all__ = ["Prostate"]
