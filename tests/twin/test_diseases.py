"""Disease packs: the registry, the default EGFR NSCLC pack, and a saved twin that knows its pack."""

import subprocess
import sys

import pytest

from twin import DigitalTwin, example_patient
from twin.diseases import DEFAULT_PACK, DiseasePack, get_pack
from twin.diseases.egfr_nsclc import EgfrNsclc


def test_default_pack_is_egfr_nsclc():
    pack = get_pack()
    assert isinstance(pack, EgfrNsclc) and pack.name == DEFAULT_PACK == "egfr_nsclc"
    assert get_pack(pack) is pack
    assert pack.primary == "time_to_2x_baseline" and pack.scan_every == 56


def test_unknown_pack_is_refused_with_the_valid_names():
    with pytest.raises(ValueError, match=r"unknown disease pack 'prostat'; the packs are \['egfr_nsclc', 'prostate'\]"):
        get_pack("prostat")


def test_importing_the_packs_does_not_import_jax():
    code = "import sys, twin.diseases; assert 'jax' not in sys.modules, 'jax imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_twin_uses_its_pack():
    twin = DigitalTwin.from_record(example_patient())
    assert twin.pack == get_pack()
    assert twin.observables == ("diameter", "resistant_fraction")
    assert twin.record_response().text == get_pack().record_response(twin.record).text
    assert "RECIST 1.1 of the record" in repr(twin)


def test_saved_twin_knows_its_pack():
    twin = DigitalTwin.from_record(example_patient())
    ds = twin.to_dataset()
    assert (ds.attrs["pack"], ds.attrs["pack_version"]) == ("egfr_nsclc", twin.pack.version)
    assert DigitalTwin.from_dataset(ds).pack == twin.pack
    older = ds.copy()
    del older.attrs["pack"], older.attrs["pack_version"]  # saved before packs: EGFR NSCLC
    assert DigitalTwin.from_dataset(older).pack == twin.pack
    older.attrs["pack_version"] = "0"
    with pytest.warns(UserWarning, match="saved with version '0' of the 'egfr_nsclc' pack"):
        DigitalTwin.from_dataset(older)
    older.attrs["pack"] = "no_such_pack"
    with pytest.raises(ValueError, match="unknown disease pack 'no_such_pack'"):
        DigitalTwin.from_dataset(older)


def test_a_pack_must_say_what_it_models():
    class Incomplete(DiseasePack):
        pass

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()
