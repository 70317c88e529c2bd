"""The ``twin`` command line: calibrate a patient's twin, ask what-ifs, update it with each scan.

Exit codes: 0 success; 1 bad input (a file, a value; the message names it); 2 command-line
usage; 3 the twin's sampler diagnostics or its model check (the record against the posterior
predictive) failed (results written, problems printed);
4 ``update``: a new observation fell outside the twin's 90% predictive interval; 5 ``validate``:
a reference validation failed.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import typer

EXIT_INPUT, EXIT_DIAGNOSTICS, EXIT_SURPRISE, EXIT_VALIDATION = 1, 3, 4, 5

app = typer.Typer(
    help="Patient digital twins for EGFR-mutant lung cancer: calibrate a twin to a patient's scans, compare "
    "regimens from today, update it with each new scan.\n\nStart with `twin demo`. Exit codes: 0 ok, 1 bad input, "
    "2 usage, 3 sampler diagnostics or model check failed, 4 new scan outside the 90% predictive interval, "
    "5 validation failed.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _setup() -> None:
    """Float64, and JAX's persistent compilation cache (``$TWIN_CACHE_DIR``, default
    ``~/.cache/patient-twin/jax``; ``TWIN_CACHE_DIR=off`` disables it): a second run skips most
    compilation."""
    import os

    import jax

    jax.config.update("jax_enable_x64", True)
    cache = os.environ.get("TWIN_CACHE_DIR", str(Path.home() / ".cache" / "patient-twin" / "jax"))
    if cache.lower() != "off":
        jax.config.update("jax_compilation_cache_dir", cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def _console(as_json: bool):
    from rich.console import Console

    console = Console(stderr=as_json)  # with --json, stdout carries only the JSON
    if not console.is_terminal:
        console.width = max(console.width, 150)  # files and pipes: wide enough for the tables
    return console


@contextmanager
def _stage(console, text: str):
    """A spinner while a stage runs, then its wall time."""
    start = time.perf_counter()
    with console.status(f"{text}..."):
        yield
    console.print(f"[green]done[/green] {text} ({time.perf_counter() - start:.1f} s)")


def _fail(message: str, code: int = EXIT_INPUT):
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _guarded(run: Callable[[], int | None]) -> None:
    """Run a command body; input errors (files, records, mutations, values: all ``ValueError``s, and
    missing files) exit 1 with their one-line message."""
    try:
        code = run()
    except (ValueError, FileNotFoundError) as e:
        _fail(str(e))
    if code:
        raise typer.Exit(code)


def _table(console, result, title: str) -> None:
    """The ranked table of a twin's comparison (ranking columns first; censoring as "not reached")
    and its verdict."""
    from rich.table import Table

    from scenarios.endpoints import ENDPOINTS
    from twin.formatting import event_cell, penalty_cells, percent, short_regimen, toxicity_explained
    from twin.report import endpoint_short, secondary_endpoint

    table, ds = result.table, result.dataset
    second = secondary_endpoint(ds)
    primary, horizon = ds.attrs["primary"], float(ds.attrs["horizon_days"])
    toxicity = float(ds.attrs.get("toxicity_penalty_days", 0.0))
    out = Table(title=title)
    short = ENDPOINTS[primary].short
    penalty_cols = ("toxicity (days)**", "score (days)**") if toxicity else ()
    for col in ("#", "regimen", f"{short}: mean days*", *penalty_cols, "vs #1 (days)",
                f"{short} by day {horizon:g}: median (90% CI)", "P(best) / P(tied)",
                f"{endpoint_short(second, ds)} by day {horizon:g}",
                "dose (g)"):  # fmt: skip
        out.add_column(col)
    rank_of = {r: i + 1 for i, r in enumerate(table.regimen)}
    for i, r in enumerate(table.to_dict(orient="records")):
        notes = [f"[red]ABOVE LABEL:[/red] {r['above label dose']}"] if r.get("above label dose") else []
        if r["same as"]:
            notes.insert(0, f"same doses as #{rank_of[r['same as']]}")
        lo, hi = r["difference vs #1 90% CI"]
        rmst, cost = r[f"{primary} RMST"], r["toxicity penalty (days)"]
        out.add_row(
            str(i + 1),
            short_regimen(r["regimen"]) + "".join(f"\n  [dim]{n}[/dim]" for n in notes),
            f"{rmst:.0f}",
            *(penalty_cells(rmst, cost) if toxicity else ()),
            "—" if i == 0 else f"{r['difference vs #1 (mean)']:+.0f} ({lo:+.0f} to {hi:+.0f})",
            event_cell(r, primary, horizon),
            f"{percent(r[f'P(best on {primary})'])} / {percent(r[f'P(tied for best on {primary})'])}",
            event_cell(r, second, horizon),
            f"{r['cumulative dose g (median)']:.0f}",
        )
    console.print(out)
    console.print(
        f"* restricted mean to day {horizon:g} over {ds.sizes['draw']} posterior draws (a draw without the event "
        "counts at the horizon); not reached (x%): x% of draws without the event by the horizon; P(tied): draws where "
        "several regimens share the best value."
    )
    if toxicity:
        console.print(f"** {toxicity_explained(toxicity)}")
    if ds.attrs.get("adaptive_baseline"):
        console.print(ds.attrs["adaptive_baseline"])
    console.print(f"[bold]Verdict:[/bold] {result.verdict.text}")
    console.print("[dim]A model forecast under stated assumptions, not a treatment recommendation.[/dim]")


def _rows(table) -> list[dict]:
    rows = []
    for rec in table.to_dict(orient="records"):
        rows.append({k: list(v) if isinstance(v, tuple) else v for k, v in rec.items()})
    return rows


def _calibrate(twin, console, **settings):
    from inference.fit import CalibrationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)  # kept in twin.diagnostics, printed below
        with _stage(console, f"calibrating ({settings.get('method') or twin.settings.method})"):
            twin = twin.calibrate(**settings)
    _print_problems(console, twin)
    return twin


def _print_problems(console, twin) -> int:
    """Print the twin's failed sampler diagnostics and model checks; the exit code they mean."""
    for problem in twin.diagnostics:
        console.print(f"[bold red]sampler diagnostics:[/bold red] {problem}")
    for problem in twin.model_check:
        console.print(f"[bold red]model check:[/bold red] {problem}")
    return EXIT_DIAGNOSTICS if twin.diagnostics or twin.model_check else 0


TOXICITY_HELP = (
    "Days of restricted mean lost per unit of relative exposure above the label dose (mean daily dose / label daily "
    "dose - 1): rank by the restricted mean minus this penalty. 0: no penalty."
)
DISEASE_HELP = "The disease pack (twin.diseases.PACKS): egfr_nsclc (EGFR-mutant NSCLC)."
METHOD_HELP = "nuts: exact posterior (minutes); laplace: Gaussian at the MAP (under a minute, approximate)."


@app.command()
def demo(
    out: Path = typer.Option(Path("twin-demo"), help="Folder for the report, figures and saved twin."),
    method: str = typer.Option("laplace", help=METHOD_HELP),
    draws: int = typer.Option(200, min=10, max=2000, help="Posterior draws simulated per regimen."),
    days: int = typer.Option(728, min=56, max=3640, help="What-if horizon (days; a multiple of 56)."),
    seed: int = typer.Option(0, min=0, help="Seed of every random number."),
    toxicity_penalty_days: float = typer.Option(0.0, "--toxicity-penalty", min=0.0, help=TOXICITY_HELP),
    disease: str = typer.Option("egfr_nsclc", help=DISEASE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the ranked table as JSON."),
) -> None:
    """The what-if for the disease pack's shipped example patient; for EGFR NSCLC (the default) EX-001
    (synthetic; EGFR L858R with a T790M subclone, on erlotinib, responding, ctDNA T790M rising at day 154).

    Calibrates their twin, compares the standard regimens from the decision day (continuous erlotinib; pulsed
    erlotinib; adaptive AT50 against the pre-treatment burden; erlotinib then osimertinib at progression;
    osimertinib now), prints them ranked by the time until the tumour volume doubles, with 90% credible intervals,
    and writes OUT/index.html with the figures (and a drug screen of the EGFR panel on the twin's clones) and
    OUT/EX-001.twin.nc (the twin, for `twin whatif` and `twin update`).
    """
    _setup()

    def run() -> int:
        from twin.diseases import get_pack

        pack = get_pack(disease)
        paths = pack.example_files()
        return _calibrate_and_compare(paths["record"], paths.get("mutations"), None, out, method, draws, days, seed,
                                      as_json, "twin demo", toxicity_penalty_days, pack=pack)  # fmt: skip

    _guarded(run)


def _calibrate_and_compare(file, mutations, patient_id, out, method, draws, days, seed, as_json, what,
                           toxicity_penalty_days=0.0, pack=None) -> int:  # fmt: skip
    from twin.digital_twin import DigitalTwin
    from twin.io import read_patient
    from twin.report import write_twin_report

    console = _console(as_json)
    start = time.perf_counter()
    record = read_patient(file, patient_id, mutations=mutations)
    with _stage(console, f"building the twin of {record.patient_id}"):
        twin = DigitalTwin.from_record(record, pack=pack)
    twin = _calibrate(twin, console, method=method, seed=seed)
    with _stage(console, f"simulating the standard regimens on {draws} posterior draws"):
        result = twin.compare(days=days, n_draws=draws, toxicity_penalty_days=toxicity_penalty_days)
    out.mkdir(parents=True, exist_ok=True)
    with _stage(console, "screening drugs on the twin's clones"):
        screened = twin.pack.screen(twin, pairs=True)  # None where the pack has no screen
    with _stage(console, "writing the report"):
        page = write_twin_report(twin, result, out, n_draws=draws, screen=screened)
        saved = twin.save(out / f"{record.patient_id}.twin.nc")
    elapsed = time.perf_counter() - start
    if as_json:
        typer.echo(json.dumps(_summary(twin, result, page, saved, elapsed), indent=2, default=float))
    else:
        console.print(repr(twin))
        _table(console, result, f"{what}: patient {record.patient_id}, {days} days from day {twin.now:g}")
        console.print(f"Report: {page}\nTwin: {saved}\nTotal {elapsed:.0f} s")
    return EXIT_DIAGNOSTICS if twin.diagnostics or twin.model_check else 0


def _summary(twin, result, page, saved, elapsed) -> dict:
    return {
        "patient_id": twin.record.patient_id,
        "decision_day": twin.now,
        "method": twin.settings.method,
        "diagnostics": list(twin.diagnostics),
        "model_check": list(twin.model_check),
        "parameters": twin.summary().to_dict(orient="records"),
        "regimens": _rows(result.table),
        "verdict": result.verdict.text,
        "adaptive_baseline": result.dataset.attrs.get("adaptive_baseline"),
        "toxicity_penalty_days": result.dataset.attrs.get("toxicity_penalty_days", 0.0),
        "report": str(page) if page else None,
        "twin": str(saved) if saved else None,
        "seconds": round(elapsed, 1),
    }


@app.command()
def calibrate(
    file: Path = typer.Argument(..., help="Patient file: long CSV or NONMEM-style CSV (see twin.io)."),
    mutations: Path = typer.Option(None, help="Mutations CSV (id, gene, variant, vaf)."),
    patient: str = typer.Option(None, "--id", help="Patient id, when the file has several."),
    out: Path = typer.Option(None, help="Where to save the twin (default ID.twin.nc here)."),
    method: str = typer.Option("nuts", help=METHOD_HELP),
    chains: int = typer.Option(None, min=1, help="NUTS chains (default: the twin's, twin.digital_twin.Settings)."),
    warmup: int = typer.Option(None, min=1, help="NUTS warm-up iterations per chain (default: the twin's)."),
    samples: int = typer.Option(None, min=1, help="Draws per chain (default: the twin's)."),
    seed: int = typer.Option(0, min=0, help="Seed of every random number."),
    allow_above_limit: bool = typer.Option(
        False, "--allow-above-limit", help="Accept doses above the hard limit (2x the highest dose studied)."
    ),
    disease: str = typer.Option("egfr_nsclc", help=DISEASE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the posterior summary as JSON."),
) -> None:
    """Build and calibrate a patient's twin from their files; save it (NetCDF) for whatif and update."""
    _setup()

    def run() -> int:
        from twin.digital_twin import DigitalTwin
        from twin.io import read_patient

        console = _console(as_json)
        record = read_patient(file, patient, mutations=mutations, allow_above_limit=allow_above_limit)
        twin = DigitalTwin.from_record(record, pack=disease)
        twin = _calibrate(twin, console, method=method, chains=chains, warmup=warmup, samples=samples, seed=seed)
        saved = twin.save(out or Path(f"{record.patient_id}.twin.nc"))
        if as_json:
            typer.echo(json.dumps({"twin": str(saved), "diagnostics": list(twin.diagnostics),
                                   "parameters": twin.summary().to_dict(orient="records")}, default=float))  # fmt: skip
        else:
            console.print(repr(twin))
            console.print(f"Twin: {saved}")
        return EXIT_DIAGNOSTICS if twin.diagnostics or twin.model_check else 0

    _guarded(run)


@app.command()
def whatif(
    twin_file: Path = typer.Argument(..., metavar="TWIN", help="A saved twin (.twin.nc)."),
    regimen: list[str] = typer.Option(
        None,
        help="A regimen (repeat for several): continuous, pulsed, at50 (adaptive: hold below 50% of the "
        "pre-treatment burden, resume at 100%), at50-now (the same against the burden on the decision day), switch, "
        "osimertinib, or DRUG:MG (daily), DRUG:MG:ON:OFF, DRUG:MG:at50, DRUG:MG:at50-now, DRUG:MG>DRUG2:MG2. "
        "Default: the five standard ones.",
    ),
    days: int = typer.Option(728, min=56, max=3640, help="Horizon (days; a multiple of 56)."),
    draws: int = typer.Option(200, min=10, max=4000, help="Posterior draws simulated per regimen."),
    report: Path = typer.Option(None, help="Also write an HTML report with figures into this folder."),
    toxicity_penalty_days: float = typer.Option(0.0, "--toxicity-penalty", min=0.0, help=TOXICITY_HELP),
    allow_above_limit: bool = typer.Option(
        False, "--allow-above-limit", help="Accept doses above the hard limit (2x the highest dose studied)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the ranked table as JSON."),
) -> None:
    """Compare regimens from the twin's decision day, ranked by the time until the tumour volume doubles."""
    _setup()

    def run() -> int:
        from twin.digital_twin import DigitalTwin
        from twin.report import write_twin_report

        console = _console(as_json)
        twin = DigitalTwin.load(twin_file)
        parse = twin.pack.parse_regimen  # the regimen vocabulary of the twin's disease
        regimens = [parse(r, days, allow_above_limit=allow_above_limit) for r in regimen] if regimen else None
        start = time.perf_counter()
        with _stage(console, f"simulating on {draws} posterior draws"):
            result = twin.compare(regimens, days=days, n_draws=draws, toxicity_penalty_days=toxicity_penalty_days)
        page = write_twin_report(twin, result, report, n_draws=draws) if report else None
        if as_json:
            typer.echo(json.dumps(_summary(twin, result, page, None, time.perf_counter() - start), default=float))
        else:
            _table(console, result, f"patient {twin.record.patient_id}: {days} days from day {twin.now:g}")
            if page:
                console.print(f"Report: {page}")
        return _print_problems(console, twin)  # a forecast from a twin that failed its checks says so

    _guarded(run)


@app.command()
def update(
    twin_file: Path = typer.Argument(..., metavar="TWIN", help="A saved twin (.twin.nc)."),
    new_file: Path = typer.Argument(..., metavar="NEWFILE", help="The new rows (scans, doses) as a patient file."),
    out: Path = typer.Option(
        None, help="Where to save the updated twin (default: TWIN, the previous version kept as ID.dayN.twin.nc)."
    ),
    days: int = typer.Option(728, min=56, max=3640, help="Horizon of the re-ranking (days; a multiple of 56)."),
    draws: int = typer.Option(200, min=10, max=4000, help="Posterior draws simulated per regimen."),
    as_json: bool = typer.Option(False, "--json", help="Print the checks and rankings as JSON."),
) -> None:
    """Add a new scan: check it against the twin's 90% predictive interval, refit, re-rank the regimens.

    Exit code 4 when a new observation fell outside the interval: the patient and the twin diverged, time to
    reconsider the treatment (and the model).
    """
    _setup()

    def run() -> int:
        from twin.digital_twin import DigitalTwin
        from twin.io import read_patient

        console = _console(as_json)
        twin = DigitalTwin.load(twin_file)
        new = read_patient(new_file, twin.record.patient_id)
        before = twin.compare(days=days, n_draws=draws)
        with _stage(console, "checking the new rows and refitting"):
            step = twin.update(new)
        after = step.twin.compare(days=days, n_draws=draws)
        kept = None
        if out is None or Path(out).resolve() == Path(twin_file).resolve():  # never destroy the previous state
            kept = twin.previous_version_path(twin_file)
            shutil.copy2(twin_file, kept)
        saved = step.twin.save(out or twin_file)
        if as_json:
            payload = {"surprised": step.surprised, "checks": step.checks.to_dict(orient="records"),
                       "before": _rows(before.table), "after": _rows(after.table), "twin": str(saved),
                       "previous_version": str(kept) if kept else None,
                       "verdict_before": before.verdict.text, "verdict_after": after.verdict.text,
                       "diagnostics": list(step.twin.diagnostics),
                       "model_check": list(step.twin.model_check)}  # fmt: skip
            typer.echo(json.dumps(payload, default=float))
        else:
            for c in step.checks.itertuples():
                verdict = "[bold red]OUTSIDE[/bold red]" if c.outside else "inside"
                console.print(
                    f"day {c.time:g} {c.observable} = {c.value:g}: {verdict} the 90% predictive interval "
                    f"{c.lo:.3g} to {c.hi:.3g} (median {c.median:.3g})"
                )
            if step.surprised:
                console.print("[bold red]The patient diverged from the twin's prediction: reconsider the treatment.")
            _table(console, before, f"before: from day {twin.now:g}")
            _table(console, after, f"after: from day {step.twin.now:g}")
            console.print(f"Twin: {saved}" + (f" (the version before this update: {kept})" if kept else ""))
        problems = _print_problems(console, step.twin)
        return EXIT_SURPRISE if step.surprised else problems

    _guarded(run)


@app.command()
def screen(
    twin_file: Path = typer.Argument(..., metavar="TWIN", help="A saved twin (.twin.nc)."),
    pairs: bool = typer.Option(True, help="Screen every pair of drugs too."),
    as_json: bool = typer.Option(False, "--json", help="Print the screen as JSON."),
) -> None:
    """In-silico drug screen on the twin's clones (the disease pack's; EGFR NSCLC: every EGFR-panel drug and pair at
    its standard dose, on each clone's personalised network), ranked by the net growth rate of the tumour mix on the
    decision day."""
    _setup()

    def run() -> int:
        from twin.digital_twin import DigitalTwin

        console = _console(as_json)
        twin = DigitalTwin.load(twin_file)
        with _stage(console, "screening"):
            ds = twin.pack.screen(twin, pairs=pairs)
        if ds is None:
            raise ValueError(f"the {twin.pack.name!r} disease pack has no drug screen")
        order = ds["rank"].values.argsort()
        rows = [
            {"treatment": str(ds.treatment.values[i]), "rank": int(ds["rank"].values[i]),
             "mixed_net_growth_rate_per_day": float(ds.mixed_net_growth_rate.values[i]),
             "worst_clone_net_growth_rate_per_day": float(ds.worst_clone_net_growth_rate.values[i])}
            for i in order
        ]  # fmt: skip
        if as_json:
            typer.echo(json.dumps({"clones": list(ds.clone.values), "fractions": ds.fraction.values.tolist(),
                                   "treatments": rows}))  # fmt: skip
            return 0
        from rich.table import Table

        table = Table(title=f"Drug screen, patient {twin.record.patient_id} (clone shares on day {twin.now:g}: "
                      + ", ".join(f"{c} {f:.2f}" for c, f in zip(ds.clone.values, ds.fraction.values, strict=True))
                      + ")")  # fmt: skip
        for col in ("rank", "treatment", "tumour net growth (1/day)", "worst clone (1/day)"):
            table.add_column(col)
        for r in rows[:15]:
            table.add_row(str(r["rank"]), r["treatment"], f"{r['mixed_net_growth_rate_per_day']:+.4f}",
                          f"{r['worst_clone_net_growth_rate_per_day']:+.4f}")  # fmt: skip
        console.print(table)
        return 0

    _guarded(run)


@app.command()
def validate(
    path: Path = typer.Argument(Path("../shared/refdata"), help="The reference-data folder."),
    only: list[str] = typer.Option(None, help="Run only these validations (repeat)."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Run the reference validations (published data and numbers) and say which pass, with the source, metric
    and tolerance of each."""
    _setup()

    def run() -> int:
        from dataclasses import asdict

        from twin.validate import run_validations

        console = _console(as_json)
        results = run_validations(path, only or None, progress=lambda name: console.print(f"running {name}..."))
        if as_json:
            typer.echo(json.dumps([asdict(r) for r in results], default=float))
        else:
            for r in results:
                verdict = "[green]PASS[/green]" if r.passed else "[bold red]FAIL[/bold red]"
                console.print(f"{verdict} {r.name}: {r.claim} — {r.metric} {r.value:g} (tolerance {r.tolerance}); "
                              f"{r.source} ({r.seconds:.1f} s) {r.detail}")  # fmt: skip
        return 0 if all(r.passed for r in results) else EXIT_VALIDATION

    _guarded(run)


def main() -> None:  # pragma: no cover - the console script
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
