"""`python -m minialign book`: the course as static HTML, readable without running anything.

Every lesson notebook (notebooks/en, notebooks/zh) is executed on the stage cache and exported
by nbconvert to HTML with its outputs and figures (images embedded as data URIs). Next to it:
the quizzes (with their answers folded away), the exercises' README and stubs, the results page,
and an index page that links them all.

    python -m minialign book                          # -> book/index.html
    python -m minialign book --lang en --lessons 02,05 --jobs 2

The two languages share their code cells (notebooks/build.py enforces it, bar the quiz call,
tagged "lang-specific", which differs only in its language code). So a lesson is executed once:
the English notebook runs in a kernel, each Chinese language-specific cell runs in the same
kernel right after its English twin, and the Chinese notebook takes the English outputs of every
identical code cell. A pair that does not line up cell by cell is executed twice instead.

Needs the `lessons` extra (jupyter, nbconvert). Layout of the output folder:

    index.html
    notebooks/en/NN_slug.html   .ipynb (executed)   notebooks/zh/...   (lesson links to
    exercises/README.html  README_CN.html  exNN_*.py                     ../../exercises resolve)
    quiz/NN_en.html  NN_zh.html
    results/RESULTS.html  RESULTS_CN.html
"""

from __future__ import annotations

import copy
import html
import os
import resource
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LANGS = ("en", "zh")
LANG_TAG = "lang-specific"
"""tag of the code cells that differ between the languages (notebooks/build.py sets it)"""
LANG_NAMES = {"en": "English", "zh": "中文"}


class BookError(RuntimeError):
    """A lesson that failed (the message is the one line printed), or a bad option."""


# --- sharing one execution between the two languages ------------------------------------------
def own_cells(first, other) -> list[int] | None:
    """Indices of the code cells of notebook `other` that must run themselves when `first` has
    been executed: the cells tagged lang-specific. None when the two do not line up (another cell
    count, another cell type at some place, or a differing code cell that is not tagged), in
    which case `other` must be executed on its own."""
    if len(first.cells) != len(other.cells):
        return None
    own = []
    for i, (a, b) in enumerate(zip(first.cells, other.cells)):
        if a.cell_type != b.cell_type:
            return None
        if a.cell_type != "code" or a.source == b.source:
            continue
        tagged = LANG_TAG in a.metadata.get("tags", []) and LANG_TAG in b.metadata.get("tags", [])
        if not tagged:
            return None
        own.append(i)
    return own


def copy_outputs(first, other, own: list[int]) -> int:
    """Give every code cell of `other` not in `own` the outputs and execution count of the same
    cell of the executed notebook `first`; returns how many cells were copied."""
    n = 0
    for i, (a, b) in enumerate(zip(first.cells, other.cells)):
        if a.cell_type == "code" and i not in own:
            b.outputs = copy.deepcopy(a.outputs)
            b.execution_count = a.execution_count
            n += 1
    return n


# --- executing a lesson -----------------------------------------------------------------------
def _first_line(cell) -> str:
    lines = [line for line in cell.source.splitlines() if line.strip() and not line.startswith("#")]
    text = (lines or [""])[0].strip()
    return text if len(text) <= 60 else text[:57] + "..."


class CellFailed(BookError):
    """A lesson cell that raised, timed out or killed its kernel."""

    def __init__(self, message: str, lang: str):
        super().__init__(message)
        self.lang = lang


def _run_cell(client, cell, index: int, count: int, nb_path: Path, n_cells: int, history: bool = True) -> None:
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    try:
        client.execute_cell(cell, index, execution_count=count, store_history=history)
    except CellExecutionError as exc:
        error = f"{exc.ename}: {(str(exc.evalue).strip().splitlines() or [''])[0]}"
    except (CellTimeoutError, DeadKernelError) as exc:
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    else:
        return
    raise CellFailed(f"{_rel(nb_path)}: cell {index + 1} of {n_cells} (`{_first_line(cell)}`) failed: {error}",
                     nb_path.parent.name)


def _execute(nb, nb_path: Path, timeout: int, log: Path, followers: list | None = None) -> None:
    """Run every code cell of `nb` in one kernel started in the notebook's folder, its stderr
    going to the file `log`; after each cell, the cells of `followers` ([(notebook, path,
    indices)]) at that index run too."""
    from nbclient import NotebookClient

    followers = followers or []
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(nb_path.parent)}})
    client.reset_execution_trackers()
    count = 0
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as stderr, client.setup_kernel(stderr=stderr):
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            count += 1
            _run_cell(client, cell, i, count, nb_path, len(nb.cells))
            for other, other_path, indices in followers:
                if i in indices:
                    # outside the kernel's history: the lead notebook's execution counts stay 1, 2, 3...
                    _run_cell(client, other.cells[i], i, count, other_path, len(other.cells), history=False)


@dataclass
class LessonDone:
    slug: str
    seconds: float
    cpu: float
    """CPU seconds of the kernels and of this process's own work (export)"""
    how: dict[str, str] = field(default_factory=dict)
    """per language: 'executed', or 'outputs of en + N own cells'"""
    titles: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def lesson_title(nb) -> str:
    """The first markdown heading of a notebook, without its '#'s."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return ""


def build_lesson(slug: str, langs: tuple[str, ...], out: Path, timeout: int,
                 notebooks: Path = ROOT / "notebooks") -> LessonDone:
    """Execute one lesson (`notebooks`/LANG/`slug`.ipynb) in `langs`, the first leading, and write
    its HTML pages and executed notebooks under `out`/notebooks."""
    import nbformat

    start, cpu0 = time.perf_counter(), _cpu()
    paths = {lang: notebooks / lang / f"{slug}.ipynb" for lang in langs}
    nbs = {lang: nbformat.read(paths[lang], as_version=4) for lang in langs}
    done = LessonDone(slug, 0.0, 0.0, titles={lang: lesson_title(nb) for lang, nb in nbs.items()})
    logs = {lang: out / "logs" / f"{slug}_{lang}.log" for lang in langs}
    lead, rest = langs[0], langs[1:]
    try:
        shared = {lang: own_cells(nbs[lead], nbs[lang]) for lang in rest}
        _execute(nbs[lead], paths[lead], timeout, logs[lead],
                 [(nbs[lang], paths[lang], own) for lang, own in shared.items() if own is not None])
        done.how[lead] = "executed"
        for lang, own in shared.items():
            if own is None:
                _execute(nbs[lang], paths[lang], timeout, logs[lang])
                done.how[lang] = "executed"
            else:
                copy_outputs(nbs[lead], nbs[lang], own)
                done.how[lang] = f"outputs of {lead} + {len(own)} own cell{'s' * (len(own) != 1)}"
        for lang in langs:
            write_lesson_page(nbs[lang], out / "notebooks" / lang / slug, done.titles[lang])
    except CellFailed as exc:
        # the notebook as far as it ran, the traceback in the failed cell's output
        partial = out / "logs" / f"{slug}_{exc.lang}.ipynb"
        nbformat.write(nbs[exc.lang], partial)
        done.error = f"{exc} (traceback: {_rel(partial)}, kernel log: {_rel(logs[exc.lang])})"
    done.seconds, done.cpu = time.perf_counter() - start, _cpu() - cpu0
    return done


def write_lesson_page(nb, stem: Path, title: str) -> None:
    """`stem`.html (nbconvert's lab template, figures embedded) and `stem`.ipynb (executed)."""
    import nbformat

    _write_html(nb, stem.with_suffix(".html"), title)
    nbformat.write(nb, stem.with_suffix(".ipynb"))


def _write_html(nb, path: Path, title: str) -> None:
    """A notebook as one HTML page (nbconvert's lab template, figures embedded) at `path`."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb, resources={"metadata": {"name": title}})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")


# --- the other pages --------------------------------------------------------------------------
def markdown_page(text: str, path: Path, title: str) -> None:
    """A markdown file as one HTML page, in the same template as the lessons."""
    import nbformat

    _write_html(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)]), path, title)


PAGE = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #ddd; padding: .4rem .6rem; text-align: left; vertical-align: top; }}
details {{ margin: 0 0 1rem 1rem; }}
</style></head>
<body>
{body}
</body></html>
"""


def page(title: str, body: str, lang: str = "en") -> str:
    return PAGE.format(lang=lang, title=html.escape(title), body=body)


def write_quiz_pages(out: Path, langs: tuple[str, ...], numbers: set[int]) -> dict[tuple[int, str], str]:
    """quiz/NN_lang.html for each lesson in `numbers` that has a quiz; {(number, lang): relative path}."""
    from .quiz.bank import lesson_quiz, load_lessons
    from .quiz.render import quiz_html

    pages = {}
    for lesson in load_lessons():
        if lesson.number not in numbers:
            continue
        for lang in langs:
            info, questions = lesson_quiz(lesson.number, lang)
            rel = f"quiz/{lesson.number:02d}_{lang}.html"
            (out / "quiz").mkdir(parents=True, exist_ok=True)
            (out / rel).write_text(page(info.title[lang], quiz_html(info, questions, lang), lang), encoding="utf-8")
            pages[(lesson.number, lang)] = rel
    return pages


@dataclass
class IndexEntry:
    """One lesson's row of the index: its pages and titles per language, quiz pages, exercise."""

    number: int
    slug: str
    titles: dict[str, str]
    pages: dict[str, str]
    quizzes: dict[str, str] = field(default_factory=dict)
    exercise: str | None = None


def index_html(entries: list[IndexEntry], langs: tuple[str, ...], extras: dict[str, str]) -> str:
    """The index page: a row per lesson (a link per language, its quizzes and exercise), then the
    exercises and results pages named in `extras` ({label: relative path})."""
    esc = html.escape
    head = "".join(f"<th>{LANG_NAMES[lang]}</th>" for lang in langs)
    rows = []
    for e in sorted(entries, key=lambda e: e.number):
        cells = [f"<td>{e.number:02d}</td>"]
        for lang in langs:
            link = e.pages.get(lang)
            cells.append(f'<td><a href="{esc(link)}">{esc(e.titles.get(lang) or e.slug)}</a></td>' if link
                         else "<td></td>")
        quiz = " · ".join(f'<a href="{esc(e.quizzes[lang])}">{lang}</a>' for lang in langs if lang in e.quizzes)
        cells.append(f"<td>{quiz}</td>")
        cells.append(f'<td><a href="{esc(e.exercise)}">{esc(Path(e.exercise).name)}</a></td>' if e.exercise
                     else "<td></td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = "".join(f'<li><a href="{esc(rel)}">{esc(label)}</a></li>' for label, rel in extras.items())
    body = (
        "<h1>minialign</h1>\n"
        "<p>LLM alignment from scratch: every lesson executed, with its outputs and figures. "
        "从零实现大模型对齐：每一课都已运行，附带全部输出与图表。</p>\n"
        f"<table><thead><tr><th>#</th>{head}<th>quiz 测验</th><th>exercise 练习</th></tr></thead>\n"
        f"<tbody>\n{chr(10).join(rows)}\n</tbody></table>\n"
        f"<ul>{more}</ul>\n"
        f"<p><small>Built by <code>python -m minialign book</code> on {time.strftime('%Y-%m-%d %H:%M')}."
        "</small></p>"
    )
    return page("minialign: the course", body)


def exercise_for(number: int) -> Path | None:
    found = sorted((ROOT / "exercises").glob(f"ex{number:02d}_*.py"))
    return found[0] if found else None


def write_side_pages(out: Path, langs: tuple[str, ...]) -> dict[str, str]:
    """Exercises (README rendered, stubs copied) and the results page; {label: relative path}."""
    extras = {}
    (out / "exercises").mkdir(parents=True, exist_ok=True)
    for stub in sorted((ROOT / "exercises").glob("ex*.py")):
        shutil.copy2(stub, out / "exercises" / stub.name)
    names = {"en": ("README", "RESULTS", "Exercises", "Results"), "zh": ("README_CN", "RESULTS_CN", "练习", "实验结果")}
    for lang in langs:
        readme, results, ex_label, res_label = names[lang]
        for src, rel, label in ((ROOT / "exercises" / f"{readme}.md", f"exercises/{readme}.html", ex_label),
                                (ROOT / "results" / f"{results}.md", f"results/{results}.html", res_label)):
            if src.exists():
                markdown_page(src.read_text(encoding="utf-8"), out / rel, label)
                extras[f"{label} ({LANG_NAMES[lang]})"] = rel
    return extras


# --- the command ------------------------------------------------------------------------------
def lesson_slugs(selected: str | None) -> list[str]:
    """Slugs of the lessons (from notebooks/en and notebooks/zh), optionally only those whose
    number is in the comma-separated `selected` ("02,5")."""
    slugs = sorted({p.stem for lang in LANGS for p in (ROOT / "notebooks" / lang).glob("[0-9][0-9]_*.ipynb")})
    if not selected:
        return slugs
    parts = [s.strip() for s in selected.split(",")]
    wanted = {int(s) for s in parts if s.isdigit()}
    picked = [s for s in slugs if int(s[:2]) in wanted]
    if len(wanted) != len(parts) or len(picked) != len(wanted):  # a non-number, a repeat or an unknown lesson
        raise BookError(f"--lessons {selected}: lessons are {', '.join(s[:2] for s in slugs)}")
    return picked


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def _limit_threads(threads: int) -> None:
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, str(threads))


def build_book(out: Path, langs: tuple[str, ...], slugs: list[str], jobs: int, timeout: int) -> int:
    """Build the book into `out`; prints a line per lesson; returns the exit status."""
    start, cpu0 = time.perf_counter(), _cpu()
    jobs = max(1, min(jobs, len(slugs)))
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MINIALIGN_QUIET", "1")  # the kernels inherit it: no progress bars on the pages
    print(f"book: {len(slugs)} lessons x {len(langs)} languages -> {out} ({jobs} job{'s' * (jobs != 1)})", flush=True)
    done: list[LessonDone] = []

    def report(d: LessonDone) -> bool:
        if d.error:
            print(f"book: error: {d.error}", file=sys.stderr, flush=True)
            return False
        how = ", ".join(f"{lang}: {h}" for lang, h in d.how.items())
        print(f"book: [{len(done) + 1}/{len(slugs)}] {d.slug:<22} {d.seconds:6.1f} s (cpu {d.cpu:6.1f} s)  {how}",
              flush=True)
        done.append(d)
        return True

    if jobs == 1:
        for slug in slugs:
            if not report(build_lesson(slug, langs, out, timeout)):
                return 1
    else:
        threads = max(1, (os.cpu_count() or 1) // jobs)
        with ProcessPoolExecutor(jobs, initializer=_limit_threads, initargs=(threads,)) as pool:
            futures = [pool.submit(build_lesson, slug, langs, out, timeout) for slug in slugs]
            for future in futures:
                if not report(future.result()):
                    pool.shutdown(cancel_futures=True)
                    return 1
    entries = []
    quizzes = write_quiz_pages(out, langs, {int(d.slug[:2]) for d in done})
    for d in done:
        number = int(d.slug[:2])
        stub = exercise_for(number)
        entries.append(IndexEntry(number, d.slug, d.titles, {lang: f"notebooks/{lang}/{d.slug}.html" for lang in langs},
                                  {lang: quizzes[(number, lang)] for lang in langs if (number, lang) in quizzes},
                                  f"exercises/{stub.name}" if stub else None))
    extras = write_side_pages(out, langs)
    (out / "index.html").write_text(index_html(entries, langs, extras), encoding="utf-8")
    print(f"book: done in {time.perf_counter() - start:.1f} s (cpu {_cpu() - cpu0:.1f} s): {out / 'index.html'}")
    return 0


def main(args) -> int:
    langs = tuple(dict.fromkeys(s.strip() for s in args.lang.split(",") if s.strip()))
    try:
        bad = [lang for lang in langs if lang not in LANGS]
        if bad or not langs:
            raise BookError(f"--lang {args.lang}: languages are {', '.join(LANGS)}")
        if "en" in langs:  # English first: it leads, the other language takes its outputs
            langs = ("en",) + tuple(lang for lang in langs if lang != "en")
        slugs = lesson_slugs(args.lessons)
        missing = [f"notebooks/{lang}/{s}.ipynb" for s in slugs for lang in langs
                   if not (ROOT / "notebooks" / lang / f"{s}.ipynb").exists()]
        if missing:
            raise BookError(f"missing {', '.join(missing)} (run python notebooks/build.py)")
    except BookError as exc:  # a bad option: exit status 2, as the other commands
        print(f"book: error: {exc}", file=sys.stderr)
        return 2
    if args.cache:
        os.environ["MINIALIGN_CACHE"] = str(Path(args.cache).resolve())
    try:
        jobs = args.jobs or min(2, os.cpu_count() or 1)
        return build_book(Path(args.out).resolve(), langs, slugs, jobs, args.timeout)
    except ImportError as exc:
        print(f"book: error: {exc.name} is missing; install the lessons extra: pip install -e '.[lessons]'",
              file=sys.stderr)
        return 1

