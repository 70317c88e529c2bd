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
        doses=[Dose(float(t), "erlotinib", float(a)) for t, a in zip(times, rng.uniform(20, 28, 300), strict=True)],
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

    for quantity in ("time", "amount", *OBSERVABLES):
        canonical = units_of(quantity)[0]
        for unit in units_of(quantity):
            assert to_canonical(3.0, unit, quantity) == pytest.approx(convert(3.0, unit, canonical))
    assert to_canonical(2.0, "mL", "volume") == 2000.0  # a tumour's mL, not a volume of distribution's


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
        (lambda: Dose(0.0, "erlotinib", -1.0), r"doses\.amount=-1\.0: must be > 0"),
        (lambda: Dose(0.0, "erlotinib", 0.0), r"doses\.amount=0\.0: a held dose is an absent row"),
        (
            lambda: VariantCall("EGFR", "L858", 0.3),
            r"mutations\.variant='L858': variant 'L858' of EGFR is not understood",
        ),
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
        ({4: "P1,dose,0,day,,erlotinib,,,-150,mg,oral,"}, 4, "amount", "-150", "must be > 0 (mg)"),
        ({4: "P1,dose,0,day,,erlotinib,,,150,mg,nasal,"}, 4, "route", "nasal", "accepted: oral (po, PO, by mouth"),
        (
            {4: "P1,dose,0,day,,erlotinib,,,0,mg,oral,"},
            4,
            "amount",
            "0",
            "a held dose is an absent row; give the amount taken",
        ),
        (
            {4: "P1,dose,0,day,,erlotnib,,,150,mg,oral,"},
            4,
            "drug",
            "erlotnib",
            "unknown drug 'erlotnib' (did you mean 'erlotinib'?)",
        ),
        (
            {4: "P1,dose,0,day,,erlotinib,,,15000,mg,oral,"},
            4,
            "amount",
            "15000",
            "above the hard limit of 4000 mg (2 x the highest dose studied, 2000 mg: 2000 mg once weekly",
        ),
        (
            {4: "P1,dose,0,day,,erlotinib,,,150,g,oral,"},
            4,
            "amount",
            "150",
            "did you mean 150 mg? check the unit (the row gives 150 g)",
        ),
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
        ({2: "1,0,.,-150,1,1,1,.,70"}, 2, "AMT", "-150", "must be > 0"),
        ({3: "1,24,thirty,.,0,3,0,.,70"}, 3, "DV", "thirty", "not a number"),
        ({3: "1,24,30,.,0,3,0,.,75"}, 3, "WT", "75", "differs from row 2"),
        ({2: "1,0,.,150,1,1,1,50,70"}, 2, "RATE", "50", "compartment 1 is mapped to route 'oral'"),
        ({4: "2,0,.,150,1,2,1,-2,80"}, 4, "RATE", "-2", "modelled rates (RATE -1, -2) are not supported"),
    ],
)
def test_bad_nonmem_names_file_row_column_and_value(tmp_path, replace, row, column, value, valid):
    _assert_nonmem_refuses(tmp_path, NONMEM_OK, replace, row, column, value, valid)


def _assert_nonmem_refuses(tmp_path, lines, replace, row, column, value, valid):
    """``read_nonmem`` of ``lines`` with ``replace`` ({1-based line: text}) fails naming the file, row, column
    and value, and its message contains ``valid``."""
    path = _write(tmp_path / "nm.csv", "\n".join(replace.get(i + 1, line) for i, line in enumerate(lines)) + "\n")
    with pytest.raises(PatientFileError) as info:
        read_nonmem(path, **NONMEM_ARGS)
    message = str(info.value)
    assert message.startswith(f"{path}, row {row}, column {column!r}, value {value!r}: "), message
    assert valid in message


NONMEM_DOSING = [
    "ID,TIME,DV,AMT,EVID,CMT,MDV,RATE,ADDL,II,SS,WT",
    "1,0,.,150,1,1,1,.,1,24,0,70",
    "1,24,30,.,0,3,0,.,.,.,.,70",
]


@pytest.mark.parametrize(
    "replace, row, column, value, valid",
    [
        ({2: "1,0,.,150,1,1,1,.,1,24,1,70"}, 2, "SS", "1", "SS=1 (steady state) is not supported: write out the doses"),
        ({2: "1,0,.,150,1,1,1,.,.,24,2,70"}, 2, "SS", "2", "SS=2 (steady state) is not supported"),
        ({3: "1,24,30,.,0,3,0,.,.,.,1,70"}, 3, "SS", "1", "SS=1 (steady state) is not supported"),
        ({2: "1,0,.,150,1,1,1,.,0,24,0,70"}, 2, "II", "24", "repeats a dose only with ADDL > 0"),
        ({3: "1,24,30,150,0,3,0,.,.,.,.,70"}, 3, "AMT", "150", "EVID 0 row carries no dose, so AMT would be dropped"),
        ({3: "1,24,30,.,0,3,1,.,2,24,.,70"}, 3, "ADDL", "2", "an EVID 0 row carries no dose"),  # even with MDV 1
        ({3: "1,24,.,.,2,1,1,50,.,.,.,70"}, 3, "RATE", "50", "an EVID 2 row carries no dose"),
    ],
)
def test_nonmem_refuses_dosing_values_it_would_drop(tmp_path, replace, row, column, value, valid):
    _assert_nonmem_refuses(tmp_path, NONMEM_DOSING, replace, row, column, value, valid)


def test_nonmem_ss_column_of_zeros_and_empty_cells_is_read(tmp_path):
    path = _write(tmp_path / "nm.csv", "\n".join([*NONMEM_DOSING, "2,0,.,100,1,1,1,.,.,.,.,80"]) + "\n")
    records = read_nonmem(path, **NONMEM_ARGS)
    assert records["1"].doses == (Dose(0.0, "erlotinib", 150.0), Dose(1.0, "erlotinib", 150.0))
    assert records["2"].doses == (Dose(0.0, "erlotinib", 100.0),)


def test_nonmem_refuses_columns_it_does_not_read_unless_ignored(tmp_path):
    lines = ["ID,TIME,DV,AMT,EVID,CMT,TAD,MDV,OCC,WT", "1,0,.,150,1,1,0,1,1,70", "1,24,30,.,0,3,24,0,1,70"]
    path = _write(tmp_path / "nm.csv", "\n".join(lines) + "\n")
    with pytest.raises(PatientFileError) as info:
        read_nonmem(path, **NONMEM_ARGS)
    message = str(info.value)
    assert message.startswith(f"{path}, row 1, column 'TAD': is not a column the NONMEM reader reads (nor OCC)")
    assert "it reads ID, TIME, DV, AMT, EVID, CMT, MDV, RATE, ADDL, II, CENS, SS (empty or 0 only)" in message
    assert "covariates= (WT)" in message and "ignore=['TAD', 'OCC']" in message
    with pytest.raises(PatientFileError, match=r"column 'OCC': is not a column the NONMEM reader reads; "):
        read_nonmem(path, **NONMEM_ARGS, ignore=["tad"])  # names match case-insensitively
    r = read_nonmem(path, **NONMEM_ARGS, ignore=["TAD", "OCC"])["1"]
    assert r.doses == (Dose(0.0, "erlotinib", 150.0),) and len(r.observations) == 1
    for read in ("SS", "amt", "WT"):
        with pytest.raises(ValueError, match=f"ignore: column '{read}' is read by read_nonmem"):
            read_nonmem(path, **NONMEM_ARGS, ignore=[read])
    with pytest.raises(TypeError, match="must be a collection of column names"):
        read_nonmem(path, **NONMEM_ARGS, ignore="TAD")
    dated = _write(tmp_path / "dated.csv", "ID,DATE,TIME,DV,AMT,EVID,CMT\n1,2024-01-02,0,.,150,1,1\n")
    with pytest.raises(PatientFileError, match=r"row 1, column 'DATE': date columns are not supported \(NONMEM adds"):
        read_nonmem(dated, **{**NONMEM_ARGS, "covariates": None})
    with pytest.raises(ValueError, match="ignore: column 'Date' is a NONMEM date, added to TIME, and cannot be"):
        read_nonmem(dated, **{**NONMEM_ARGS, "covariates": None}, ignore=["Date"])


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


# ---------------------------------------------------------------------------------------------- as clinicians write


@pytest.mark.parametrize(
    "gene, written, canonical",
    [
        ("EGFR", "p.L858R", "L858R"),
        ("EGFR", "p.Leu858Arg", "L858R"),
        ("egfr", "l858r", "L858R"),
        ("EGFR", "p.(Leu858Arg)", "L858R"),
        ("EGFR", "exon 19 deletion", "ex19del"),
        ("EGFR", "del19", "ex19del"),
        ("EGFR", "Ex19Del", "ex19del"),
        ("EGFR", "exon19del", "ex19del"),
        ("EGFR", "E746_A750del", "ex19del"),
        ("EGFR", "p.E746_A750del", "ex19del"),
        ("EGFR", "p.Glu746_Ala750del", "ex19del"),
        ("EGFR", "L747_P753delinsS", "ex19del"),
        ("EGFR", "E746_S752delinsV", "ex19del"),
        ("EGFR", "L747_T751del", "ex19del"),
        ("EGFR", "S752_I759del", "ex19del"),
        ("EGFR", "E709_T710delinsD", "E709_T710delinsD"),  # exon 18: not an exon-19 deletion
        ("EGFR", "A767_V769dup", "A767_V769dup"),  # exon 20 duplication, kept as written
        ("EGFR", "p.Thr790Met", "T790M"),
        ("EGFR", "p.Cys797Ser", "C797S"),
        ("MET", "MET amp", "amplification"),
        ("MET", "MET amplification", "amplification"),
        ("MET", "Amplified", "amplification"),
        ("MET", "gain", "gain"),  # a low-level gain is not an amplification
        ("TP53", "p.Arg273His", "R273H"),
        ("TP53", "p.Arg213Ter", "R213*"),
        ("ALK", "EML4-ALK fusion", "fusion"),
    ],
)
def test_variant_spellings_map_to_the_network_names_and_keep_the_lab_text(gene, written, canonical):
    call = VariantCall(gene, written, 0.3)
    assert (call.gene, call.variant, call.reported) == (gene.upper(), canonical, written)
    assert call == VariantCall(gene.upper(), canonical, 0.3)


def test_exon19_deletions_and_the_canonical_names_are_the_networks():
    from mechanistic.egfr_network import EGFR_DRUGS, EGFR_VARIANTS
    from twin.diseases.egfr_nsclc.model import SENSITISING

    network = {(e.gene, e.variant) for e in EGFR_VARIANTS} | {v for d in EGFR_DRUGS for v in d.table()}
    for gene, written in [("EGFR", "exon 19 deletion"), ("EGFR", "p.Leu858Arg"), ("EGFR", "p.Thr790Met"),
                          ("EGFR", "p.Cys797Ser"), ("MET", "MET amp")]:  # fmt: skip
        call = VariantCall(gene, written, 0.2)
        assert (call.gene, call.variant) in network
    assert {VariantCall("EGFR", w, 0.4).variant for w in ("p.E746_A750del", "del19", "L858R")} == set(SENSITISING)


def test_mutation_file_as_a_lab_writes_it_reads_and_round_trips(tmp_path):
    main = _write(tmp_path / "p.csv", HEADER + "P1,observation,0,day,diameter,,,30,,mm,,\n"
                  "P2,observation,0,day,diameter,,,30,,mm,,\n")  # fmt: skip
    mut = _write(
        tmp_path / "m.csv",
        "id,gene,variant,vaf\nP1,EGFR,p.Glu746_Ala750del,0.4\nP1,EGFR,p.Thr790Met,0.01\nP2,egfr,l858r,0.3\n"
        "P2,MET,MET amp,0.05\n",
    )
    records = read_long_csv(main, mutations=mut)
    p1, p2 = records["P1"].mutations, records["P2"].mutations
    assert [(c.gene, c.variant, c.reported) for c in p1] == [
        ("EGFR", "ex19del", "p.Glu746_Ala750del"),
        ("EGFR", "T790M", "p.Thr790Met"),
    ]
    assert [(c.gene, c.variant) for c in p2] == [("EGFR", "L858R"), ("MET", "amplification")]
    write_mutations(tmp_path / "again.csv", records)  # the lab's text is written back
    assert "p.Glu746_Ala750del" in (tmp_path / "again.csv").read_text()
    back = read_mutations(tmp_path / "again.csv")
    assert back == {"P1": p1, "P2": p2}
    assert [c.reported for c in back["P1"]] == ["p.Glu746_Ala750del", "p.Thr790Met"]
    # a saved record keeps the lab text too
    again = PatientRecord.from_dict(records["P1"].to_dict())
    assert [c.reported for c in again.mutations] == ["p.Glu746_Ala750del", "p.Thr790Met"]


@pytest.mark.parametrize(
    "row3, value, valid",
    [
        ("P1,EGFR,L858,0.3", "L858", "is not understood. Accepted: a protein change in HGVS"),
        ("P1,EGFR,c.2573T>G,0.3", "c.2573T>G", "DNA-level notation; give the protein change"),
        ("P1,EGFR,R858L,0.3", "R858L", "EGFR codon 858 is L (Leu)"),
        ("P1,EGFR,E746_A751del,0.3", "E746_A751del", "EGFR codon 751 is T (Thr)"),
        ("P1,KRAS,exon 19 deletion,0.3", "exon 19 deletion", "names a variant of EGFR, not of KRAS"),
        ("P1,EGFR,E746_A750del,0.3", "E746_A750del", "duplicates a call of the same gene and variant (both are "),
    ],
)
def test_refused_variant_spellings_name_file_row_and_list_what_is_accepted(tmp_path, row3, value, valid):
    main = _long(tmp_path, {})
    path = _write(tmp_path / "mut.csv", f"id,gene,variant,vaf\nP1,EGFR,exon 19 deletion,0.4\n{row3}\n")
    with pytest.raises(PatientFileError) as info:
        read_long_csv(main, mutations=path)
    message = str(info.value)
    assert message.startswith(f"{path}, row 3, column 'variant', value {value!r}: "), message
    assert valid in message


@pytest.mark.parametrize(
    "route, duration, expected",
    [
        ("po", "", ("oral", 0.0)),
        ("PO", "", ("oral", 0.0)),
        ("by mouth", "", ("oral", 0.0)),
        ("Oral", "", ("oral", 0.0)),
        ("iv", "", ("iv_bolus", 0.0)),
        ("IV", "2", ("infusion", 2 / 24)),
        ("iv infusion", "1", ("infusion", 1 / 24)),
    ],
)
def test_routes_as_clinicians_write_them(tmp_path, route, duration, expected):
    path = _write(tmp_path / "r.csv", HEADER + f"P1,dose,0,hour,,cisplatin,,,100,mg,{route},{duration}\n")
    dose = read_long_csv(path)["P1"].doses[0]
    assert (dose.route, dose.duration) == expected


def test_drug_names_any_case_and_brand_names_read_as_the_table_name(tmp_path):
    path = _write(tmp_path / "d.csv", HEADER + "P1,dose,0,day,,Erlotinib,,,150,mg,po,\n"
                  "P1,dose,1,day,,TARCEVA,,,150,mg,po,\nP1,dose,2,day,,cisplatin,,,100,mg,iv,\n")  # fmt: skip
    assert read_long_csv(path)["P1"].drugs == ("erlotinib", "cisplatin")  # other drugs as written


def test_doses_above_the_label_warn_naming_file_and_rows_and_can_be_allowed_past_the_hard_limit(tmp_path):
    from twin.dose_limits import DoseWarning

    pulsed = _write(tmp_path / "pulsed.csv", HEADER + "P1,dose,0,day,,erlotinib,,,1200,mg,oral,\n"
                    "P1,dose,1,day,,erlotinib,,,1.2,g,oral,\nP1,dose,2,day,,erlotinib,,,50,mg,oral,\n")  # fmt: skip
    with pytest.warns(DoseWarning) as caught:
        r = read_long_csv(pulsed)["P1"]
    assert [d.amount for d in r.doses] == [1200.0, 1200.0, 50.0]
    (w,) = caught
    assert str(w.message).startswith(f"{pulsed}: patient 'P1': 2 erlotinib dose(s) above the label dose (150 mg once")
    assert "at rows 2, 3" in str(w.message)
    big = _write(tmp_path / "big.csv", HEADER + "P1,dose,0,day,,erlotinib,,,15000,mg,oral,\n")
    with pytest.warns(DoseWarning, match="above the hard limit"):
        assert read_long_csv(big, allow_above_limit=True)["P1"].doses[0].amount == 15000.0
    with pytest.warns(DoseWarning, match="above the hard limit"):
        read_patient(big, allow_above_limit=True)


def test_a_day_whose_doses_add_up_past_the_hard_limit_names_its_rows(tmp_path):
    path = _write(tmp_path / "day.csv", HEADER + "P1,dose,0,hour,,osimertinib,,,250,mg,oral,\n"
                  "P1,dose,12,hour,,osimertinib,,,250,mg,oral,\n")  # fmt: skip
    with pytest.raises(PatientFileError) as info:
        read_long_csv(path)  # each dose is below the hard limit per dose (480 mg); the day is not
    message = str(info.value)
    prefix = f"{path}, row 3, column 'amount', value '250': 500 mg per day of osimertinib is above the hard limit"
    assert message.startswith(prefix), message
    assert "of 480 mg" in message and "Janne" in message and "rows 2, 3, add up to 500 mg" in message


def test_nonmem_doses_are_checked_and_compartment_drug_typos_refused(tmp_path):
    args = {**NONMEM_ARGS, "dose_compartments": {1: ("erlotinib", "oral")}, "covariates": None}
    path = _write(tmp_path / "nm.csv", "ID,TIME,DV,AMT,EVID,CMT,MDV\n1,0,.,150000,1,1,1\n")
    with pytest.raises(PatientFileError, match=r"nm\.csv, row 2, column 'AMT', value '150000': .*did you mean 150 mg"):
        read_nonmem(path, **args)
    with pytest.raises(ValueError, match=r"dose_compartments\[1\]: unknown drug 'erlotnib' \(did you mean"):
        read_nonmem(path, **{**args, "dose_compartments": {1: ("erlotnib", "oral")}})


@pytest.mark.parametrize("content", [b"PK\x03\x04\x14\x00\x06\x00binary workbook", b"id,kind\nP1,\xff\xfe\x00dose\n"])
def test_a_binary_file_is_named_in_the_error(tmp_path, content):
    path = tmp_path / "patient.xlsx"
    path.write_bytes(content)
    with pytest.raises(PatientFileError) as info:
        read_patient(path)
    assert str(info.value).startswith(f"{path}, row ")
    assert "is not a text CSV file" in str(info.value) and "save it as CSV" in str(info.value)
    with pytest.raises(PatientFileError, match="is not a text CSV file"):
        read_mutations(path)
