"""`switchboard nlu`: train, try and measure the natural-language understanding."""

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nlu.errors import NLUError

DEFAULT_MODEL_DIR = Path("var/models/nlu")

app = typer.Typer(
    help=(
        "Natural-language understanding: train the intent model, parse messages, "
        "and measure accuracy on a labelled data set."
    ),
    no_args_is_help=True,
)

ModelDir = Annotated[
    Path,
    typer.Option(
        "--model-dir",
        envvar="NLU_MODEL_PATH",
        help="Model root: versioned models go below it, with a `current` pointer.",
    ),
]

err = Console(stderr=True)


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr, silent when stderr is not a terminal."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
        disable=not sys.stderr.isatty(),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(code=1)


@app.command()
def train(
    model_dir: ModelDir = DEFAULT_MODEL_DIR,
    seed: Annotated[int, typer.Option(help="Random seed; same data and seed, same model.")] = 0,
    data: Annotated[
        Path | None,
        typer.Option(help="JSON Lines training data instead of Switchboard's own (nlu/data)."),
    ] = None,
    if_missing: Annotated[
        bool,
        typer.Option(
            "--if-missing",
            help="Train only when there is no usable model or the training data changed.",
        ),
    ] = False,
) -> None:
    """Train a new model version from the training data and make it the current one."""
    from nlu.train import ensure_model, train_model

    try:
        with _progress("training") as update:
            if if_missing and data is None:
                target = ensure_model(model_dir)
            else:
                target = train_model(model_dir, data=data, seed=seed, progress=update)
    except NLUError as exc:
        raise _fail(exc) from exc
    from nlu.pipeline import read_meta

    threshold = read_meta(target).get("threshold")
    typer.echo(f"model written to {target} (threshold {threshold})")


@app.command()
def parse(
    texts: Annotated[
        list[str], typer.Argument(help="Messages to parse; a single `-` reads one per stdin line.")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line instead of a table.")
    ] = False,
    model_dir: ModelDir = DEFAULT_MODEL_DIR,
) -> None:
    """Show the intent, confidence and entities the model finds in each message.

    Trains a model first if there is none yet (a notice goes to stderr).
    """
    from nlu.pipeline import load
    from nlu.train import current_model, ensure_model

    if texts == ["-"]:
        texts = [line.rstrip("\r\n") for line in sys.stdin]
    try:
        if current_model(model_dir) is None:
            typer.echo(f"no NLU model at {model_dir}; training one first...", err=True)
            with _progress("training") as update:
                ensure_model(model_dir, progress=update)
        understander = load(model_dir)
    except NLUError as exc:
        raise _fail(exc) from exc
    results = understander.parse_many(texts)
    if as_json:
        for result in results:
            typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    out = Console()
    for result in results:
        table = Table(title=result.text[:80] or "(empty)", title_justify="left")
        table.add_column("intent")
        table.add_column("confidence", justify="right")
        table.add_row(
            f"[bold]{result.intent.value}[/]" if result.is_confident else result.intent.value,
            f"{result.confidence:.3f}" + ("" if result.is_confident else " (below threshold)"),
        )
        for intent, score in result.alternatives[:2]:
            table.add_row(f"[dim]{intent.value}[/]", f"[dim]{score:.3f}[/]")
        out.print(table)
        if result.entities:
            ents = Table(show_header=True)
            for column in ("entity", "value", "text", "start", "end"):
                ents.add_column(column)
            for e in result.entities:
                ents.add_row(e.entity, e.value, e.text, str(e.start), str(e.end))
            out.print(ents)
        out.print(f"language: {result.language}   threshold: {result.threshold:.2f}\n")


@app.command()
def evaluate(
    train_file: Annotated[
        Path | None,
        typer.Option("--train", help="Training data (JSON Lines); default Switchboard's own."),
    ] = None,
    test_file: Annotated[
        Path | None,
        typer.Option("--test", help="Test data (JSON Lines); default our held-out test files."),
    ] = None,
    folds: Annotated[
        int,
        typer.Option(
            help="Instead of train/test, report N-fold cross-validated accuracy per language "
            "on the training data."
        ),
    ] = 0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on the last line of stdout.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Train a fresh model on --train, measure it on --test and print the figures.

    The confidence threshold is tuned on `valid.jsonl` beside the training file when there is
    one, else on cross-validated predictions of the training data. Fractions are 0-1.
    """
    from nlu.evaluate import cross_validate
    from nlu.evaluate import evaluate as run_evaluation

    try:
        with _progress("evaluating") as update:
            if folds:
                cv = cross_validate(train_file, folds=folds, seed=seed, progress=update)
                report_dict = cv.to_dict()
            else:
                report = run_evaluation(train_file, test_file, seed=seed, progress=update)
                report_dict = report.to_dict()
    except NLUError as exc:
        raise _fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(report_dict, ensure_ascii=False))
        return
    out = Console()
    if folds:
        out.print(cv.render())
    else:
        out.print(report.render())


@app.command()
def sentiment(
    texts: Annotated[
        list[str] | None,
        typer.Argument(help="Texts to rate; a single `-` reads one per stdin line."),
    ] = None,
    evaluate_file: Annotated[
        Path | None,
        typer.Option(
            "--evaluate",
            help='Measure on labelled JSON Lines ({"text", "label"}) instead of rating texts.',
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON output: one object per text, or one report.")
    ] = False,
) -> None:
    """Rate texts negative / neutral / positive (English and Chinese), or measure the model.

    `--evaluate` prints `macro_recall` and `per_class` recall (fractions 0-1) of the shipped
    model, with VADER alone beside it. The file should hold texts the model was not trained
    on: the shipped model has seen TweetEval's validation tweets.
    """
    from nlu.sentiment import analyse, load_shipped
    from nlu.sentiment_train import evaluate as evaluate_sentiment
    from nlu.sentiment_train import read_labelled

    if (evaluate_file is None) == (not texts):
        raise _fail(ValueError("give either texts or --evaluate FILE"))
    try:
        if evaluate_file is not None:
            report = evaluate_sentiment(load_shipped(), read_labelled(evaluate_file))
            if as_json:
                typer.echo(json.dumps(report.to_dict(), ensure_ascii=False))
            else:
                Console().print(report.render())
            return
        assert texts is not None
        if texts == ["-"]:
            texts = [line.rstrip("\r\n") for line in sys.stdin]
        results = analyse(texts)
    except NLUError as exc:
        raise _fail(exc) from exc
    if as_json:
        for result in results:
            typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    table = Table("text", "label", "score")
    for result in results:
        table.add_row(result.text[:80], result.label, f"{result.score:+.3f}")
    Console().print(table)
