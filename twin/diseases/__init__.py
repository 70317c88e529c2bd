"""Disease packs: what is disease-specific for a :class:`twin.DigitalTwin` (see :mod:`twin.diseases.pack`).

The EGFR-mutant NSCLC pack (``"egfr_nsclc"``, :mod:`twin.diseases.egfr_nsclc`) is the default. Packs
load on first use (:func:`get_pack`), so importing this package does not import JAX.
"""

from importlib import import_module

from twin.diseases.pack import DiseasePack, RecordResponse, sphere_volume

DEFAULT_PACK = "egfr_nsclc"
PACKS = {"egfr_nsclc": "twin.diseases.egfr_nsclc:EgfrNsclc", "prostate": "twin.diseases.prostate:Prostate"}
"""Pack name -> ``module:class`` of the packs this version knows."""


def get_pack(name: str | DiseasePack | None = None) -> DiseasePack:
    """The pack called ``name`` (default :data:`DEFAULT_PACK`); a :class:`DiseasePack` passes through."""
    if isinstance(name, DiseasePack):
        return name
    name = DEFAULT_PACK if name is None else name
    if name not in PACKS:
        raise ValueError(f"unknown disease pack {name!r}; the packs are {sorted(PACKS)}")
    module, cls = PACKS[name].split(":")
    return getattr(import_module(module), cls)()


__all__ = ["DEFAULT_PACK", "PACKS", "DiseasePack", "RecordResponse", "get_pack", "sphere_volume"]
