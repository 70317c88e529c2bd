"""The ``twin`` command line."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(
    help="Patient digital twins for oncology: simulate, calibrate and compare regimens.",
    no_args_is_help=True,
    add_completion=False,
)


def _enable_x64() -> None:
    import jax

    jax.config.update("jax_enable_x64", True)


@app.callback()
def main() -> None:
    """Patient digital twins for oncology."""


@app.command()
def demo(
    out: Path = typer.Option(Path("twin-demo"), help="Folder for the figure (created if missing)."),
    days: int = typer.Option(730, min=28, max=3650, help="Simulated horizon (day)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON instead of a table."),
) -> None:
    """Simulate the flagship EGFR-mutant NSCLC model under continuous and pulsed erlotinib.

    Per regimen: deepest diameter change; progression, i.e. time to 20% diameter growth over the nadir
    (censored at the horizon if not reached); final T790M fraction; cumulative dose. Writes OUT/demo.png.
    """
    _enable_x64()
    from twin import demo as d

    out.mkdir(parents=True, exist_ok=True)
    ds, summary = d.run(days)
    png = d.plot(ds, summary, out / "demo.png")
    if as_json:
        typer.echo(
            json.dumps({"horizon_days": days, "regimens": d.summary_rows(summary), "figure": str(png)}, indent=2)
        )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Flagship EGFR-TKI two-clone model, {days} days (illustrative parameters)")
    for col in ("regimen", "best diameter change", "time to progression", "final T790M fraction", "cumulative dose"):
        table.add_column(col)
    for s in summary:
        ttp = "not reached (censored)" if s.time_to_progression_days is None else f"{s.time_to_progression_days:.0f} d"
        table.add_row(
            s.regimen,
            f"{s.nadir_change_percent:+.0f}%",
            ttp,
            f"{s.final_resistant_fraction:.3f}",
            f"{s.cumulative_dose_mg / 1000:.1f} g",
        )
    console = Console()
    console.print(table)
    console.print(f"Figure: {png}")
