"""Command line: `python -m minialign <command>`.

    pipeline            train (or load) every stage and write the comparison report
    summary DIR...      mean and spread of several pipeline runs (e.g. one per seed)
    report DIR...       the results page (English and Chinese) of several pipeline runs
    demo [STAGE]        one stage from its cached predecessors, before vs after
    quiz LESSON         the knowledge check of a lesson in the terminal
    grade               score table of your exercises
    bench               speed and memory figures, as JSON
    export STAGE DIR    a trained stage as a Hugging Face folder (transformers loads it)
    export-data WHAT DIR  a stage's training data or a run's records as JSONL for TRL
    book                every lesson executed, as static HTML with an index (make book)
"""

from __future__ import annotations

import argparse
import sys


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {value}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _device(text: str) -> str:
    name, _, index = text.partition(":")
    if name not in ("auto", "cpu", "cuda", "mps") or (index and not (name == "cuda" and index.isdigit())):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; choose auto, cpu, cuda, cuda:N or mps")
    return text


def _common(p: argparse.ArgumentParser) -> None:
    from .stages import PRESETS

    p.add_argument("--preset", default="cpu", choices=sorted(PRESETS),
                   help="model and training size: cpu (default), gpu, tiny")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the world and of every stage (0, 1, 2, ...)")
    p.add_argument("--device", type=_device, default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, mps")
    p.add_argument("--cache", default=None,
                   help="cache folder for trained stages (default $MINIALIGN_CACHE or ~/.cache/minialign)")
    p.add_argument("--retrain", nargs="?", const="all", default=None, metavar="STAGE[,STAGE]",
                   help="train again instead of loading from the cache: every stage (no value), or the stages "
                        "named and every stage that needs them")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="STAGE.FIELD=VALUE",
                   help="change one field of a stage's config, e.g. --set ppo.kl_coef=0 (repeatable)")


def stages_from_args(args):
    """The `Stages` that `pipeline`, `demo` and `bench` build from the common options."""
    from .stages import ORDER, STAGES, Stages

    if args.retrain in (None, "all"):
        retrain = args.retrain == "all"
    else:
        retrain = [s.strip() for s in args.retrain.split(",") if s.strip()]
        unknown = [s for s in retrain if s not in STAGES]
        if unknown or not retrain:
            raise UsageError(f"--retrain {args.retrain}: unknown stages {unknown}; stages are {', '.join(ORDER)}")
    device = args.device
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise UsageError(f"--device {device}: no CUDA device here; use --device cpu or auto")
    return Stages(args.preset, seed=args.seed, device=device, cache=args.cache, retrain=retrain, settings=args.settings)


class UsageError(ValueError):
    """A bad command-line value found after parsing: printed as one line, exit status 2."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # quiz and grade have their own argument parsers
    if argv and argv[0] == "quiz":
        from .quiz import main_cli

        return main_cli(argv[1:])
    if argv and argv[0] == "grade":
        from .grade import main_cli

        return main_cli(argv[1:])

    parser = argparse.ArgumentParser(prog="python -m minialign", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_pipe = sub.add_parser("pipeline", help="train and compare every method, write a report")
    _common(p_pipe)
    p_pipe.add_argument("--out", default="runs/pipeline", help="folder for the report and figures")
    p_pipe.add_argument("--lang", default="en", choices=["en", "zh"], help="language of the report's prose")
    p_pipe.add_argument("--stages", default=None, help="comma-separated subset of stages to run")
    p_sum = sub.add_parser("summary", help="mean and spread of several pipeline runs (e.g. one per seed)")
    p_sum.add_argument("runs", nargs="+", help="output folders of `pipeline --out DIR`")
    p_rep = sub.add_parser("report", help="write the results page (EN and ZH) of several pipeline runs")
    p_rep.add_argument("runs", nargs="+", help="output folders of `pipeline --out DIR`, e.g. one per seed")
    p_rep.add_argument("--out", default="results", help="folder for RESULTS.md and RESULTS_CN.md (default: results)")
    p_rep.add_argument("--lesson-times", default=None,
                       help="JUnit XML of an nbval run (make test NBVAL_ARGS=--junitxml=nb.xml): add the lesson times")
    p_demo = sub.add_parser("demo", help="one stage, before vs after (default: base vs SFT)")
    p_demo.add_argument("stage", nargs="?", default="sft", help="sft, reward, dpo, orpo, ppo, grpo, cai, rlaif")
    _common(p_demo)
    p_demo.add_argument("--out", default="runs/demo", help="folder for figures")
    p_bench = sub.add_parser("bench", help="speed and memory figures as JSON")
    _common(p_bench)
    p_bench.add_argument("--out", default="bench/results.json")
    p_bench.add_argument("--repeats", type=_positive, default=5)
    p_exp = sub.add_parser("export", help="a trained stage as a Hugging Face (GPT-2) folder")
    p_exp.add_argument("stage", help="sft, reward, dpo, orpo, ppo, grpo, sl_cai, rlaif_dpo, judge, base")
    p_exp.add_argument("dir", help="output folder (new or empty)")
    _common(p_exp)
    p_exp.add_argument("--force", action="store_true", help="write into DIR even if it is not empty")
    p_data = sub.add_parser("export-data", help="training data or evaluation records as JSONL for TRL")
    p_data.add_argument("what", help="sft, reward, dpo, orpo (what that stage trains on), or records (needs --run)")
    p_data.add_argument("dir", help="output folder")
    _common(p_data)
    p_data.add_argument("--run", default=None, help="for records: the folder of a pipeline run (pipeline --out RUN)")
    p_book = sub.add_parser("book", help="every lesson executed, as static HTML with an index page",
                            description="Execute every lesson (English and Chinese) on the stage cache and write "
                                        "static HTML with every output and figure, quizzes, exercises and the "
                                        "results page: open OUT/index.html. Meant for a filled cache (a lesson "
                                        "whose stages are not cached trains them first).")
    p_book.add_argument("--out", default="book", help="output folder (default: book)")
    p_book.add_argument("--lang", default="en,zh", help="languages, comma-separated (default: en,zh)")
    p_book.add_argument("--lessons", default=None, metavar="NN[,NN]", help="only these lessons, e.g. 02,05")
    p_book.add_argument("--jobs", type=_positive, default=None,
                        help="lessons executed at once, each in its own kernel with its share of the CPU cores "
                             "(default: 2 where there are 2 cores or more)")
    p_book.add_argument("--timeout", type=_positive, default=900, help="seconds one cell may run (default: 900)")
    p_book.add_argument("--cache", default=None,
                        help="cache folder of the trained stages (default $MINIALIGN_CACHE or ~/.cache/minialign)")
    sub.add_parser("quiz", help="knowledge check in the terminal (see: quiz --help)")
    sub.add_parser("grade", help="score table of your exercises (see: grade --help)")
    args = parser.parse_args(argv)
    from .settings import SettingError

    try:
        return _run(parser, args)
    except (UsageError, SettingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(parser: argparse.ArgumentParser, args) -> int:
    if args.command == "pipeline":
        from .pipeline import main as pipeline_main

        return pipeline_main(args)
    if args.command == "summary":
        from .pipeline import summary_main

        return summary_main(args)
    if args.command == "report":
        from .results_page import report_main

        return report_main(args)
    if args.command == "demo":
        from .demo import main as demo_main

        return demo_main(args)
    if args.command == "bench":
        from .bench import main as bench_main

        return bench_main(args)
    if args.command == "export":
        from .export import main as export_main

        return export_main(args)
    if args.command == "export-data":
        from .export_data import main as export_data_main

        return export_data_main(args)
    if args.command == "book":
        from .book import main as book_main

        return book_main(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
