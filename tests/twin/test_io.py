"""Patient records and files: round trips, unit conversion, and errors that name file, row,
column and value."""

import math
import subprocess
import sys

import numpy as np
import pytest

from twin import (
    Covariate,
    Dose,
    Observation,
    PatientFileError,
    PatientRecord,
    PatientRecordError,
    VariantCall,
    read_long_csv,
    read_mutations,
    read_nonmem,
    read_patient,
    write_long_csv,
    write_mutations,
    write_nonmem,
)
from twin.record import OBSERVABLES, ROUTES, to_canonical, units_of

HEADER = "id,kind,time,time_unit,observable,drug,covariate,value,amount,unit,route,duration\n"
NONMEM_ARGS = dict(
    time_unit="h",
    amount_unit="mg",
    dose_compartments={1: ("erlotinib", "oral"), 2: ("cisplatin", "infusion")},
    observation_compartments={2: ("concentration", "ng/mL"), 3: ("diameter", "cm"), 4: ("resistant_fraction", "%")},
    covariates={"WT": ("body_weight", "kg")},
)


def _write(path, text):
    path.write_text(text)
    return path


def _patients():
    p1 = PatientRecord(
        "P1",
        observations=[
            Observation(-7.0, "diameter", 52.0, "mm"),
            Observation(-7.0, "resistant_fraction", 0.013, "1"),
            Observation(0.3, "concentration", 1.37, "mg/L"),
            Observation(28.0, "diameter", 40.5, "mm"),
            Observation(56.0, "diameter", 5.0, "mm", "below_detection"),
            Observation(56.0, "resistant_fraction", 0.002, "1", "below_detection"),
        ],
        doses=[
            Dose(0.0, "erlotinib", 150.0),
            Dose(1.0, "erlotinib", 150.0),
            Dose(1.0, "cisplatin", 131.25, "infusion", 1 / 24),
            Dose(2.0, "cisplatin", 10.0, "iv_bolus"),
        ],
        covariates={"body_weight": Covariate(70.0, "kg"), "age": (61.0, "year"), "sex": Covariate("F")},
        mutations=[VariantCall("EGFR", "L858R", 0.42), VariantCall("EGFR", "T790M", 0.0)],
    )
    p2 = PatientRecord(
        "P2",
        observations=[
            Observation(0.0, "volume", 1234.5, "mm^3"),
            Observation(7.0, "volume", None, "mm^3", "not_evaluable"),
            Observation(14.0, "volume", None, "mm^3", "below_detection"),
            Observation(21.0, "volume", 900.0, "mm^3"),
        ],
        doses=[Dose(0.0, "erlotinib", 100.0)],
        mutations=[VariantCall("MET", "amplification", 0.1)],
    )
    return {"P1": p1, "P2": p2}


# ---------------------------------------------------------------------------------------------- round trips


def test_long_csv_and_mutations_round_trip_exactly(tmp_path):
    records = _patients()
    write_long_csv(tmp_path / "p.csv", records)
    write_mutations(tmp_path / "m.csv", records)
    back = read_long_csv(tmp_path / "p.csv", mutations=tmp_path / "m.csv")
    assert back == records
    assert read_mutations(tmp_path / "m.csv") == {pid: r.mutations for pid, r in records.items()}
    write_long_csv(tmp_path / "again.csv", back.values())
    assert (tmp_path / "again.csv").read_bytes() == (tmp_path / "p.csv").read_bytes()
    assert read_patient(tmp_path / "p.csv", "P2", mutations=tmp_path / "m.csv") == records["P2"]


def test_nonmem_round_trip_exactly_through_hours_ng_per_ml_cm_and_percent(tmp_path):
    records = _patients()
    records["P2"] = PatientRecord("P2", observations=[Observation(1.0, "diameter", 33.3, "mm")])
    records["P2"] = PatientRecord("P2", records["P2"].observations, covariates={"body_weight": (81.5, "kg")})
    args = {**NONMEM_ARGS, "observation_compartments": {**NONMEM_ARGS["observation_compartments"], 5: ("volume", "mL")}}
    only_numbers = {
        pid: PatientRecord(pid, r.observations, r.doses, {"body_weight": r.covariates["body_weight"]})
        for pid, r in records.items()
    }
    write_nonmem(tmp_path / "nm.csv", only_numbers, **args)
    assert read_nonmem(tmp_path / "nm.csv", **args) == only_numbers
    assert read_patient(tmp_path / "nm.csv", "P1", **args) == only_numbers["P1"]
    # mg/kg amounts and many awkward times still come back bit for bit
    rng = np.random.default_rng(0)
    times = np.sort(rng.uniform(0, 400, 300))
    r = PatientRecord(
        "7",
        observations=[
            Observation(float(t), "diameter", float(v), "mm")
            for t, v in zip(times, rng.uniform(1, 99, 300), strict=True)
        ],
        doses=[Dose(float(t), "erlotinib", float(a)) for t, a in zip(times, rng.uniform(1, 300, 300), strict=True)],
        covariates={"body_weight": (73.3, "kg")},
    )
    write_nonmem(tmp_path / "kg.csv", r, **{**args, "amount_unit": "mg/kg"})
    assert read_nonmem(tmp_path / "kg.csv", **{**args, "amount_unit": "mg/kg"}) == {"7": r}


def test_nonmem_writes_not_evaluable_as_mdv_1_which_reading_drops(tmp_path):
    r = PatientRecord(
        "1",
        observations=[
            Observation(0.0, "diameter", 30.0, "mm"),
            Observation(1.0, "diameter", None, "mm", "not_evaluable"),
        ],
        covariates={"body_weight": (60.0, "kg")},
    )
    write_nonmem(tmp_path / "nm.csv", r, **NONMEM_ARGS)
    assert tmp_path.joinpath("nm.csv").read_text().splitlines()[2].split(",")[:7] == [
        "1",
        "24",
        ".",
        ".",
        "0",
        "3",
        "1",
    ]
    assert read_patient(tmp_path / "nm.csv", **NONMEM_ARGS).observations == r.observations[:1]


# ---------------------------------------------------------------------------------------------- units


def test_long_csv_converts_cm_weeks_hours_ml_percent_and_mg_per_kg(tmp_path):
    path = _write(
        tmp_path / "p.csv",
        HEADER
        + "P1,observation,-1,week,diameter,,,5.2,,cm,,\n"
        + "P1,dose,0,,,erlotinib,,,2,mg/kg,oral,\n"
        + "P1,dose,12,hours,,cisplatin,,,0.1,g,infusion,2\n"
        + "P1,observation,2,weeks,volume,,,<0.5,,mL,,\n"
        + "P1,observation,2,week,resistant_fraction,,,1.5,,%,,\n"
        + "P1,observation,15,d,concentration,,,250,,ng/mL,,\n"
        + "P1,covariate,,,,,body_weight,70,,kg,,\n",
    )
    r = read_patient(path)  # the file's time_unit cells win; empty cells use time_unit= (day)
    assert r.observations == (
        Observation(-7.0, "diameter", 52.0, "mm"),
        Observation(14.0, "volume", 500.0, "mm^3", "below_detection"),
        Observation(14.0, "resistant_fraction", 0.015, "1"),
        Observation(15.0, "concentration", 0.25, "mg/L"),
    )
    assert r.doses == (Dose(0.0, "erlotinib", 140.0), Dose(0.5, "cisplatin", 100.0, "infusion", 2 / 24))
    assert read_long_csv(path, time_unit="week")["P1"].doses[0] == Dose(0.0, "erlotinib", 140.0)


def test_long_csv_time_unit_argument_and_no_kind_column(tmp_path):
    path = _write(
        tmp_path / "p.csv",
        "ID,Time,Observable,Value,Unit,Drug,Amount,Route\n"
        "A,0,diameter,30,mm,,,\n"
        "A,0,,,mg,erlotinib,150,oral\n"
        "A,4,diameter,25,mm,,,\n",
    )
    r = read_long_csv(path, time_unit="week")["A"]
    assert [o.time for o in r.observations] == [0.0, 28.0]
    assert r.doses == (Dose(0.0, "erlotinib", 150.0),)
    with pytest.raises(ValueError, match="time_unit='fortnight'"):
        read_long_csv(path, time_unit="fortnight")


def test_covariates_numbers_with_or_without_unit_and_categories(tmp_path):
    path = _long(tmp_path, {2: "P1,covariate,,,,,ecog,1,,,,"})
    extra = "P1,covariate,,,,,sex,F,,,,\nP1,covariate,,,,,body_weight,70,,kg,,\n"
    path.write_text(path.read_text() + extra)
    assert read_long_csv(path)["P1"].covariates == {
        "ecog": Covariate(1.0),
        "sex": Covariate("F"),
        "body_weight": Covariate(70.0, "kg"),
    }


def test_nonmem_reads_hours_addl_mdv_evid2_cens_and_rate(tmp_path):
    path = _write(
        tmp_path / "nm.csv",
        "ID,TIME,DV,AMT,EVID,CMT,MDV,RATE,ADDL,II,CENS,WT\n"
        "1,0,.,150,1,1,1,.,2,24,0,70\n"
        "1,2,1370,.,0,2,0,.,.,.,0,70\n"
        "1,3,.,.,0,2,1,.,.,.,0,70\n"  # missing observation: skipped
        "1,4,.,.,2,2,1,.,.,.,0,70\n"  # other event: skipped
        "1,24,5,.,0,3,0,.,.,.,0,70\n"
        "1,30,0.2,.,0,4,0,.,.,.,1,70\n"
        "1,36,.,100,1,2,1,200,.,.,0,70\n",
    )
    r = read_patient(path, **NONMEM_ARGS)
    assert r.doses == (
        Dose(0.0, "erlotinib", 150.0),
        Dose(1.0, "erlotinib", 150.0),
        Dose(1.5, "cisplatin", 100.0, "infusion", 0.5 / 24),
        Dose(2.0, "erlotinib", 150.0),
    )
    assert r.observations == (
        Observation(2 / 24, "concentration", 1.37, "mg/L"),
        Observation(1.0, "diameter", 50.0, "mm"),
        Observation(1.25, "resistant_fraction", 0.002, "1", "below_detection"),
    )
    assert r.covariates == {"body_weight": Covariate(70.0, "kg")}


def test_unit_factors_agree_with_mechanistic_convert():
    from mechanistic.units import convert

    same = {"days": "day", "hours": "hour", "weeks": "week", "mm3": "mm^3", "cm3": "cm^3", "mL": "mL_tumour"}
    for quantity in ("time", "amount", *OBSERVABLES):
        canonical = units_of(quantity)[0]
        for unit in units_of(quantity):
            name = same.get(unit, unit)
            if quantity != "resistant_fraction":
                assert to_canonical(3.0, unit, quantity) == pytest.approx(convert(3.0, name, canonical))


# ---------------------------------------------------------------------------------------------- records


def test_record_converts_to_observations_dose_table_and_mutations():
    import mechanistic as m

    r = _patients()["P1"]
    obs = r.to_observations(observables=["diameter"], units={"diameter": "cm"})
    np.testing.assert_array_equal(obs.time, [-7.0, 28.0, 56.0])
    np.testing.assert_allclose(obs.value, [5.2, 4.05, 0.5])
    np.testing.assert_array_equal(obs.censored, [False, False, True])
    assert obs.units == {"diameter": "cm"} and obs.patient == "P1" and obs.n_missing == 0
    p2 = _patients()["P2"]
    with pytest.raises(ValueError, match="detection_limit"):
        p2.to_observations()
    vol = p2.to_observations(detection_limit={"volume": 100.0})
    assert vol.n_missing == 1 and vol.value.tolist() == [1234.5, 100.0, 900.0]

    table = r.to_dose_table()
    expected = m.concat(
        [
            m.dose(0.0, "erlotinib", 150.0),
            m.dose(1.0, "erlotinib", 150.0),
            m.dose(1.0, "cisplatin", 131.25, "infusion", duration=1 / 24),
            m.dose(2.0, "cisplatin", 10.0, "iv_bolus"),
        ]
    )
    assert table.rows() == expected.rows() and table.drugs == expected.drugs
    assert r.to_mutations() == (m.Mutation("EGFR", "L858R", 0.42),)
    assert set(ROUTES) == set(m.ROUTES)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: Observation(1.0, "diameter", 3.0, "cm"), r"observations\.unit='cm'.*'mm'"),
        (lambda: Observation(math.nan, "diameter", 3.0, "mm"), r"observations\.time=nan: must be finite"),
        (lambda: Observation(1.0, "resistant_fraction", 1.2, "1"), r"value=1\.2: must be in \[0, 1\]"),
        (lambda: Observation(1.0, "size", 3.0, "mm"), r"observable='size': is not one of"),
        (lambda: Dose(0.0, "", 150.0), r"doses\.drug='': must be a non-empty name"),
        (lambda: Dose(0.0, "erlotinib", -1.0), r"doses\.amount=-1\.0: must be >= 0"),
        (lambda: Dose(0.0, "erlotinib", 1.0, "infusion"), r"duration=0\.0: an infusion needs a duration"),
        (lambda: VariantCall("EGFR", "T790M", 35.0), r"mutations\.vaf=35\.0: must be a fraction in \[0, 1\]"),
        (
            lambda: PatientRecord(
                "X", [Observation(5.0, "diameter", 1.0, "mm"), Observation(2.0, "diameter", 1.0, "mm")]
            ),
            r"patient 'X': observations\[1\]\.time=2\.0: is earlier .* \(see observations\[0\]\)",
        ),
        (
            lambda: PatientRecord("X", doses=[Dose(1.0, "e", 1.0), Dose(1.0, "e", 2.0)]),
            r"doses\[1\]\.time=1\.0: duplicates a dose",
        ),
        (lambda: Covariate("2"), r"covariates\.value='2': reads as a number"),
        (
            lambda: PatientRecord("X", covariates={"body_weight": (70.0, "lb")}),
            r"covariates\['body_weight'\]\.unit='lb': body_weight is held in 'kg'",
        ),
    ],
)
def test_record_errors_name_field_row_and_value(build, match):
    with pytest.raises(PatientRecordError, match=match):
        build()


# ---------------------------------------------------------------------------------------------- bad files


LONG_OK = [
    "P1,covariate,,,,,body_weight,70,,kg,,",
    "P1,observation,0,day,diameter,,,30,,mm,,",
    "P1,dose,0,day,,erlotinib,,,150,mg,oral,",
    "P1,observation,28,day,diameter,,,25,,mm,,",
]


def _long(tmp_path, replace: dict[int, str], header=HEADER):
    """The good long file with data rows (2-based, as the spreadsheet numbers them) replaced."""
    rows = [replace.get(i + 2, line) for i, line in enumerate(LONG_OK)]
    return _write(tmp_path / "bad.csv", header + "\n".join(rows) + "\n")


@pytest.mark.parametrize(
    "replace, row, column, value, valid",
    [
        ({3: "P1,observation,0,day,diameter,,,30,,inch,,"}, 3, "unit", "inch", "valid units: mm, cm"),
        ({3: "P1,observation,day 0,day,diameter,,,30,,mm,,"}, 3, "time", "day 0", "not a number"),
        ({4: "P1,dose,0,day,,erlotinib,,,150mg,mg,oral,"}, 4, "amount", "150mg", "not a number"),
        ({3: "P1,observation,0,day,diameter,,,big,,mm,,"}, 3, "value", "big", "TOO SMALL TO MEASURE"),
        ({5: "P1,observation,-3,day,diameter,,,25,,mm,,"}, 5, "time", "-3", "sort the rows by time (row 3)"),
        ({5: "P1,observation,0,week,diameter,,,25,,mm,,"}, 5, "time", "0", "duplicates an observation"),
        ({4: "P1,dose,0,day,,,,,150,mg,oral,"}, 4, "drug", "", "a dose needs the drug given"),
        ({4: "P1,dose,0,day,,erlotinib,,,-150,mg,oral,"}, 4, "amount", "-150", "must be >= 0 (mg)"),
        ({4: "P1,dose,0,day,,erlotinib,,,150,mg,by mouth,"}, 4, "route", "by mouth", "'oral'"),
        ({4: "P1,dose,0,fortnight,,erlotinib,,,1,mg,oral,"}, 4, "time_unit", "fortnight", "day, days"),
        ({2: "P1,covariate,,,,,age,70,,kg,,"}, 2, "unit", "kg", "age must be given in 'year'"),
        (
            {2: "P1,covariate,,,,,age,70,,year,,", 4: "P1,dose,0,day,,erlotinib,,,2,mg/kg,oral,"},
            4,
            "unit",
            "mg/kg",
            "needs the body weight of patient 'P1': give a body_weight covariate in kg",
        ),
        ({3: "P1,obs,0,day,diameter,,,30,,mm,,"}, 3, "kind", "obs", "observation, dose, covariate"),
        (
            {3: "P1,observation,0,day,resistant_fraction,,,130,,%,,"},
            3,
            "value",
            "130",
            "must be in [0, 1] (resistant_fraction in '1'); % converted to 1.3 1",
        ),
        ({3: "P1,observation,0,day,diameter,,,30,,mm,,,x"}, 3, "#13", "x", "header names only 12 columns"),
        ({3: ",observation,0,day,diameter,,,30,,mm,,"}, 3, "id", "", "patient id is empty"),
        (
            {5: "P1,covariate,,,,,body_weight,71,,kg,,"},
            5,
            "covariate",
            "body_weight",
            "duplicates the covariate of row 2",
        ),
    ],
)
def test_bad_long_csv_names_file_row_column_and_value(tmp_path, replace, row, column, value, valid):
    path = _long(tmp_path, replace)
    with pytest.raises(PatientFileError) as info:
        read_long_csv(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}, row {row}, column {column!r}, value {value!r}: "), message
    assert valid in message
    assert (info.value.row, info.value.column, info.value.value) == (row, column, value)


def test_missing_column_is_named_at_the_header_row(tmp_path):
    path = _long(tmp_path, {}, header=HEADER.replace(",route", ",rout"))
    with pytest.raises(PatientFileError) as info:
        read_long_csv(path)
    assert str(info.value).startswith(f"{path}, row 1, column 'route': missing column 'route' (needed by dose rows")
    assert "rout," in str(info.value)  # lists the columns found
    only_obs = _write(tmp_path / "obs.csv", "id,time,observable,value\nA,0,diameter,3\n")
    with pytest.raises(PatientFileError, match=r"obs\.csv, row 1, column 'unit': missing column 'unit'"):
        read_long_csv(only_obs)


@pytest.mark.parametrize(
    "row3, row, column, value, valid",
    [
        ("P1,EGFR,T790M,35", 3, "vaf", "35", "[0, 1] (35% is 0.35)"),
        ("P1,EGFR,T790M,-0.1", 3, "vaf", "-0.1", "[0, 1]"),
        ("P1,EGFR,T790M,high", 3, "vaf", "high", "not a number"),
        ("P1,EGFR,,0.1", 3, "variant", "", "non-empty name"),
        ("P1,EGFR,L858R,0.3", 3, "variant", "L858R", "duplicates a call of the same gene and variant (row 2)"),
        ("P9,EGFR,T790M,0.1", 3, "id", "P9", "patient not in"),
    ],
)
def test_bad_mutations_file_names_file_row_column_and_value(tmp_path, row3, row, column, value, valid):
    main = _long(tmp_path, {})
    path = _write(tmp_path / "mut.csv", f"id,gene,variant,vaf\nP1,EGFR,L858R,0.4\n{row3}\n")
    with pytest.raises(PatientFileError) as info:
        read_long_csv(main, mutations=path)
    message = str(info.value)
    assert message.startswith(f"{path}, row {row}, column {column!r}, value {value!r}: "), message
    assert valid in message


NONMEM_OK = [
    "ID,TIME,DV,AMT,EVID,CMT,MDV,RATE,WT",
    "1,0,.,150,1,1,1,.,70",
    "1,24,30,.,0,3,0,.,70",
    "2,0,.,150,1,2,1,300,80",
]


@pytest.mark.parametrize(
    "replace, row, column, value, valid",
    [
        ({3: "1,24,30,.,0,7,0,.,70"}, 3, "CMT", "7", "not in observation_compartments"),
        ({3: "1,24,30,.,3,3,0,.,70"}, 3, "EVID", "3", "valid: 0 (observation), 1 (dose)"),
        ({3: "1,-1,30,.,0,3,0,.,70"}, 3, "TIME", "-1", "earlier than row 2"),
        ({2: "1,0,.,-150,1,1,1,.,70"}, 2, "AMT", "-150", "must be >= 0"),
        ({3: "1,24,thirty,.,0,3,0,.,70"}, 3, "DV", "thirty", "not a number"),
        ({3: "1,24,30,.,0,3,0,.,75"}, 3, "WT", "75", "differs from row 2"),
        ({2: "1,0,.,150,1,1,1,50,70"}, 2, "RATE", "50", "compartment 1 is mapped to route 'oral'"),
        ({4: "2,0,.,150,1,2,1,-2,80"}, 4, "RATE", "-2", "modelled rates (RATE -1, -2) are not supported"),
    ],
)
def test_bad_nonmem_names_file_row_column_and_value(tmp_path, replace, row, column, value, valid):
    lines = [replace.get(i + 1, line) for i, line in enumerate(NONMEM_OK)]
    path = _write(tmp_path / "nm.csv", "\n".join(lines) + "\n")
    with pytest.raises(PatientFileError) as info:
        read_nonmem(path, **NONMEM_ARGS)
    message = str(info.value)
    assert message.startswith(f"{path}, row {row}, column {column!r}, value {value!r}: "), message
    assert valid in message


def test_nonmem_needs_its_columns_and_contiguous_patients(tmp_path):
    path = _write(tmp_path / "nm.csv", "ID,TIME,DV,AMT,CMT,WT\n1,0,.,150,1,70\n")
    with pytest.raises(PatientFileError, match=r"nm\.csv, row 1, column 'EVID': missing column 'EVID'"):
        read_nonmem(path, **NONMEM_ARGS)
    path = _write(tmp_path / "nm.csv", "\n".join([*NONMEM_OK, "1,48,25,.,0,3,0,.,70"]) + "\n")
    with pytest.raises(PatientFileError, match=r"row 5, column 'ID', value '1': patient '1' appears again"):
        read_nonmem(path, **NONMEM_ARGS)
    with pytest.raises(PatientFileError, match=r"row 1, column 'WT': missing column 'WT'; the columns are: ID, TIME"):
        read_nonmem(_write(tmp_path / "nowt.csv", "ID,TIME,DV,AMT,EVID,CMT\n1,0,.,1,1,1\n"), **NONMEM_ARGS)
    with pytest.raises(TypeError, match="time_unit"):  # no silent default for NONMEM time
        read_nonmem(path, amount_unit="mg", dose_compartments={}, observation_compartments={})


def test_read_patient_chooses_among_several(tmp_path):
    records = _patients()
    write_long_csv(tmp_path / "p.csv", records)
    with pytest.raises(PatientFileError, match=r"p\.csv, row 1, column 'id': the file has 2 patients \(P1, P2\)"):
        read_patient(tmp_path / "p.csv")
    with pytest.raises(PatientFileError, match=r"value 'P3': no such patient; the file has: P1, P2"):
        read_patient(tmp_path / "p.csv", "P3")
    assert read_patient(tmp_path / "p.csv", id="P1").covariates == records["P1"].covariates


def test_reading_never_modifies_the_input_files(tmp_path):
    good = _long(tmp_path, {})
    bad = _write(tmp_path / "bad2.csv", HEADER + "P1,dose,0,day,,,,,150,mg,oral,\n")
    mutations = _write(tmp_path / "mut.csv", "id,gene,variant,vaf\nP1,EGFR,L858R,0.4\n")
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (good, bad, mutations)}
    read_patient(good, mutations=mutations)
    with pytest.raises(PatientFileError):
        read_long_csv(bad)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in before} == before


def test_importing_twin_io_does_not_import_jax():
    code = "import sys, twin.io; assert 'jax' not in sys.modules, 'jax imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
