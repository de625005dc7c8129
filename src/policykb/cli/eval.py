"""`policykb eval`: search quality and result sets on a judged (BEIR) data set."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from policykb.cli.common import LazyKB, handle_errors, print_json
from policykb.kb import KnowledgeBase
from policykb.search.parts import MODES


def _numbers(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of numbers") from None


@click.command(name="eval")
@click.argument("beir_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--mode", type=click.Choice([*MODES, "all"]), default="all", show_default=True)
@click.option("--split", default="test", show_default=True, help="Which qrels/<split>.tsv to use.")
@click.option("--limit", type=click.IntRange(1), help="Only the first N judged queries (a quick look).")
@click.option("--curve", is_flag=True, help="Instead: result-set size and recall over a grid of cut-offs "
              "(--floors, --shares, --margin), to calibrate the similarity floor of a model.")
@click.option("--floors", default="0.3,0.35,0.4,0.45,0.5,0.55", show_default=True,
              help="Similarity floors for --curve.")
@click.option("--shares", default="0.25,0.3,0.4,0.5,0.6", show_default=True,
              help="Keyword shares for --curve.")
@click.option("--margin", type=float, help="Similarity margin below the best hit for --curve (default: none).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_context
@handle_errors
def evaluate(ctx: click.Context, beir_dir: Path, mode: str, split: str, limit: int | None, curve: bool,
             floors: str, shares: str, margin: float | None, as_json: bool) -> None:
    """Measure search quality on a BEIR data set: nDCG@10, recall@100, MRR@10 per mode, and the
    result sets (median and 90th-percentile size, set recall).

    Ingests the corpus into a temporary knowledge base, unless --home (or POLICYKB_HOME) names one.

    \b
    Example:
      policykb eval ../shared/data/beir-scifact --mode all
      policykb --home /tmp/kb-scifact eval ../shared/data/beir-scifact --curve --mode semantic
    """
    from policykb.evaluation import cutoff_curve, evaluate as run_eval

    lazy: LazyKB = ctx.obj
    modes = list(MODES) if mode == "all" else [mode]
    with tempfile.TemporaryDirectory(prefix="policykb-eval-") as tmp:
        settings = lazy.settings
        if ctx.parent is None or ctx.parent.params.get("home") is None:
            settings = settings.model_copy(update={"home": Path(tmp) / "kb"})
        with KnowledgeBase(settings) as kb:
            report = kb.ingest([beir_dir], fmt="beir", progress=True)
            if not as_json:
                click.echo(f"corpus: {len(report.added) + len(report.updated) + len(report.unchanged)} documents, "
                           f"{kb.stats()['passages']} passages ({report.embedded} embedded now)")
            if curve:
                rows = cutoff_curve(kb, beir_dir, modes, _numbers(floors), _numbers(shares), margin, split, limit)
            else:
                results = run_eval(kb, beir_dir, modes, split, limit)
    if as_json:
        print_json(rows if curve else results)
    elif curve:
        click.echo(f"{'mode':<10}{'floor':>7}{'margin':>8}{'share':>7}{'median':>8}{'p90':>7}{'% corpus':>10}"
                   f"{'set recall':>12}")
        for r in rows:
            cells = [f"{r[k]:g}" if r[k] is not None else "-" for k in ("floor", "margin", "keyword_share")]
            click.echo(f"{r['mode']:<10}{cells[0]:>7}{cells[1]:>8}{cells[2]:>7}{r['set_median']:>8}{r['set_p90']:>7}"
                       f"{100 * r['set_median_share']:>9.2f}%{r['set_recall']:>12.4f}")
    else:
        click.echo(f"{'mode':<10}{'nDCG@10':>10}{'recall@100':>12}{'MRR@10':>10}{'set median':>12}{'set p90':>9}"
                   f"{'set recall':>12}{'queries':>9}{'seconds':>9}")
        for name, r in results.items():
            click.echo(f"{name:<10}{r['ndcg@10']:>10.4f}{r['recall@100']:>12.4f}{r['mrr@10']:>10.4f}"
                       f"{r['set_median']:>12}{r['set_p90']:>9}{r['set_recall']:>12.4f}{r['queries']:>9}"
                       f"{r['seconds']:>9}")
