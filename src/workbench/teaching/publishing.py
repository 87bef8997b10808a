"""The teaching set on a screen and on paper: every lesson as reveal.js slides and as a printable handout.

Both are made from a lesson's *executed learner notebook* (``notebooks/teaching/learner/NN-name.ipynb``,
which ``workbench teaching`` generates from the lesson source and runs), through one step,
:func:`presented`, that takes the code out:

- cells that show nothing (imports, set-up, the ``parameters`` cell) are dropped, and so are the
  ``teaching.check(...)`` cells: their reply only means something in a running notebook;
- an exercise, the ``teaching.ask(...)`` question and the ``answer_N_M = ...  # your answer: ...`` cell
  after it, becomes one boxed prompt: the question, and a box to write in, labelled with the kind of
  answer wanted (``a whole number``);
- headings, text, tables and figures stay as they are; code input is never shown.

Slides (:func:`slides_html`): nbconvert's :class:`~nbconvert.exporters.SlidesExporter`, with each cell's
``slideshow`` metadata set by one rule (:func:`slide_types`): a ``#`` or ``##`` heading starts a slide,
which holds its text and first small table or figure; a ``###`` heading, an exercise prompt and every
further or larger table or figure start a sub-slide below it (reveal.js's vertical slides); a sentence
the lesson computes (a Markdown result) is a fragment, shown on the next key press.

Handouts (:func:`handout_html`): the same cells in the report page of
:func:`workbench.reports.publishing.to_html` (header, A4 print stylesheet), the exercises boxed with
room to write, printed to PDF by headless Chromium, one browser for all lessons.

Offline: a deck needs reveal.js 4 (``dist/reveal.js``, ``dist/reveal.css``, its theme, the notes
plugin). It loads it from a folder ``reveal.js`` beside it when there is one, so a copy put in
``reports/teaching/slides/reveal.js/`` (and carried with the decks) makes them work without a network;
else from ``reveal_url``, by default :data:`REVEAL_URL` (a CDN, nbconvert's own choice). No installed
Python package ships a whole reveal.js (Voila's ``reveal.js`` is a bundle of its own, without the
style sheets), so none is copied. Nothing else is loaded from the web (no jQuery, require.js, MathJax
or Mermaid), and where reveal.js cannot be loaded a deck opens as one readable page, its slides one
below the other, under a line saying how to present them offline.

Examples
--------
>>> from nbformat.v4 import new_markdown_cell, new_notebook
>>> slide_types(new_notebook(cells=[new_markdown_cell("# Lesson 1"), new_markdown_cell("### Exercises")]))
['slide', 'subslide']
"""

from __future__ import annotations

import ast
import copy
import functools
import html
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from workbench.project import Project
from workbench.teaching.generator import EXERCISE_TAG, LESSONS, NOTE_TAG, PLACEHOLDER_COMMENT, SOLUTION_TAG, Lesson

__all__ = [
    "HANDOUT_STYLE", "PROMPT_TAG", "REVEAL_FOLDER", "REVEAL_URL", "SLIDE_STYLE", "SMALL_TABLE_CHARACTERS",
    "SMALL_TABLE_ROWS", "LessonOutputs", "handout_html", "local_reveal", "presented", "slide_types", "slides_html",
    "with_slide_metadata", "write_lesson_outputs",
]

# nbconvert's own default: the reveal.js its slide template was written for.
REVEAL_URL = "https://unpkg.com/reveal.js@4.0.2"
REVEAL_FOLDER = "reveal.js"  # a local copy beside the decks: slides/reveal.js/dist/reveal.js
PROMPT_TAG = "exercise-prompt"
SLIDE_WIDTH, SLIDE_HEIGHT = 1280, 720  # a 16:9 projector
# A table this small fits on a slide below a heading and a paragraph (measured on the lessons' tables).
SMALL_TABLE_ROWS, SMALL_TABLE_CHARACTERS = 12, 1500

_IMAGE = re.compile(r"^image/")


# --- presenting: the lesson without code ------------------------------------------------


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _teaching_call(source: str) -> str | None:
    """``"ask"`` or ``"check"`` when the cell ends in a ``teaching.ask(...)``/``teaching.check(...)`` call."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    last = tree.body[-1] if tree.body else None
    if (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)
            and isinstance(last.value.func, ast.Attribute) and isinstance(last.value.func.value, ast.Name)
            and last.value.func.value.id == "teaching" and last.value.func.attr in ("ask", "check")):
        return last.value.func.attr
    return None


def _shown_outputs(cell) -> list:
    """The outputs a reader sees: results and displays, never error tracebacks or stderr."""
    return [output for output in cell.get("outputs", [])
            if output.output_type in ("execute_result", "display_data")
            or (output.output_type == "stream" and output.get("name") == "stdout" and output.text.strip())]


def _answer_hint(source: str) -> str:
    """What kind of answer an exercise wants, for people: the ``# your answer: ...`` comment, without
    what only a notebook needs (quotes, how to compute it)."""
    _, _, comment = source.partition(PLACEHOLDER_COMMENT)
    hint = comment.lstrip(":").strip()
    hint = re.sub(r",?\s*e\.g\.\s+computed\b.*$", "", hint)
    return re.sub(r"\s+in quotes\b", "", hint).strip()


def _question(cell, answer_name: str) -> str:
    """The exercise's question as Markdown: the ``teaching.ask`` cell's result, else its number alone."""
    for output in _shown_outputs(cell) if cell is not None else []:
        if "text/markdown" in output.get("data", {}):
            return output.data["text/markdown"]
    number = ".".join(answer_name.removeprefix("answer_").split("_"))
    return f"**Exercise {number}.**"


def _prompt_cell(question: str, hint: str, *, cell_id: str):
    """One Markdown cell holding the question and a box to write the answer in (plain HTML, one block)."""
    import nbformat
    from nbconvert.filters import markdown2html

    label = f"Your answer: {hint}" if hint else "Your answer"
    body = " ".join(markdown2html(question).split("\n"))
    source = (f'<div class="wb-exercise">{body}<div class="wb-answer"><span class="wb-answer-label">'
              f"{html.escape(label)}</span></div></div>")
    return nbformat.v4.new_markdown_cell(source, id=cell_id, metadata={"tags": [PROMPT_TAG]})


def presented(book):
    """The lesson as people see it: a copy of the executed learner notebook ``book`` without code.

    Dropped: the ``parameters`` cell, solution and instructor-note cells, ``teaching.check`` cells
    and every code cell that shows nothing. Each exercise cell becomes, with the ``teaching.ask``
    question just before it, one Markdown cell tagged :data:`PROMPT_TAG`: the question and an empty
    box labelled with the kind of answer wanted. Code cells keep their outputs; their input is
    hidden by the exporters. The notebook's metadata is kept.
    """
    import nbformat

    cells = []
    pending_question = None  # a teaching.ask cell waiting for its exercise
    for cell in book.cells:
        tags = _tags(cell)
        if cell.cell_type != "code":
            if NOTE_TAG not in tags:
                cells.append(copy.deepcopy(cell))
            continue
        if "parameters" in tags or SOLUTION_TAG in tags:
            continue
        if EXERCISE_TAG in tags:
            names = re.findall(r"^\s*(answer_\w+)\s*=", cell.source, flags=re.M)
            answer_name = names[0] if names else "answer"
            cells.append(_prompt_cell(_question(pending_question, answer_name), _answer_hint(cell.source),
                                      cell_id=f"prompt-{cell.get('id', len(cells))}"))
            pending_question = None
            continue
        call = _teaching_call(cell.source)
        if call == "check":
            continue
        if pending_question is not None:  # an ask without its exercise cell: show the question alone
            cells.append(copy.deepcopy(pending_question))
            pending_question = None
        if call == "ask":
            pending_question = cell
            continue
        shown = _shown_outputs(cell)
        if shown:
            kept = copy.deepcopy(cell)
            kept.outputs = copy.deepcopy(shown)
            cells.append(kept)
    if pending_question is not None:
        cells.append(copy.deepcopy(pending_question))
    out = nbformat.v4.new_notebook(cells=cells)
    out.metadata = copy.deepcopy(book.metadata)
    return out


# --- slides ------------------------------------------------------------------------------


def _slide_kind(cell) -> str:
    """What a cell of a :func:`presented` lesson is, for :func:`slide_types`."""
    if cell.cell_type == "markdown":
        if PROMPT_TAG in _tags(cell):
            return "exercise"
        first = cell.source.lstrip()
        if first.startswith(("# ", "## ")):
            return "section"
        return "subsection" if first.startswith("### ") else "text"
    kinds = {kind for output in _shown_outputs(cell) for kind in output.get("data", {})}
    if any(_IMAGE.match(kind) for kind in kinds) or "text/html" in kinds:
        return "display" if all(_small(output) for output in _shown_outputs(cell)) else "large display"
    return "result" if _shown_outputs(cell) else "text"


def _small(output) -> bool:
    """Whether an output fits on a slide below a heading and some text: a figure at least as wide as it
    is tall, a table of at most :data:`SMALL_TABLE_ROWS` rows and :data:`SMALL_TABLE_CHARACTERS`
    characters of text."""
    data = output.get("data", {})
    if "image/png" in data:
        size = _png_size(data["image/png"])
        return size is None or size[0] >= size[1]
    if "text/html" in data:
        markup = data["text/html"] if isinstance(data["text/html"], str) else "".join(data["text/html"])
        text = html.unescape(re.sub(r"<[^>]+>", "", markup))
        return markup.count("<tr") <= SMALL_TABLE_ROWS and len(" ".join(text.split())) <= SMALL_TABLE_CHARACTERS
    return True


def _png_size(encoded: str) -> tuple[int, int] | None:
    """(width, height) of a base64 PNG, read from its header."""
    import base64
    import binascii

    try:
        header = base64.b64decode("".join(encoded.split())[:32])
    except (binascii.Error, ValueError):
        return None
    if len(header) < 24 or not header.startswith(b"\x89PNG"):
        return None
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def slide_types(book) -> list[str]:
    """Where each cell of a :func:`presented` lesson goes in its slide deck (reveal.js's ``slide_type``).

    ======================================================  ===================================
    cell                                                    slide type
    ======================================================  ===================================
    the first cell, and Markdown opening with ``#``/``##``  ``slide``
    Markdown opening with a ``###`` heading                 ``subslide``
    an exercise prompt (tagged :data:`PROMPT_TAG`)          ``subslide``
    a small table or figure (an HTML or image output: at    ``-`` on a (sub)slide that holds none
    most 12 rows and 1,500 characters; wider than tall)     yet, else ``subslide``
    a larger table or figure                                ``subslide``
    a sentence the lesson computes (text output only)       ``fragment``
    anything else (more text under a heading)               ``-``
    ======================================================  ===================================

    So each section of a lesson is a slide holding its text and first small table or figure; each
    further or larger table or figure, each ``###`` part and each exercise is a slide below it, with
    the whole slide for itself (a table too long even for that scrolls inside it).

    Examples
    --------
    >>> from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
    >>> figures = [new_code_cell(outputs=[new_output("display_data", {"image/png": "iVBOR"})]) for _ in range(2)]
    >>> slide_types(new_notebook(cells=[new_markdown_cell("# Lesson"), new_markdown_cell("## A part"), *figures]))
    ['slide', 'slide', '-', 'subslide']
    """
    types: list[str] = []
    holds_display = False
    for index, cell in enumerate(book.cells):
        kind = _slide_kind(cell)
        if index == 0 or kind == "section":
            chosen = "slide"
        elif kind in ("subsection", "exercise", "large display") or (kind == "display" and holds_display):
            chosen = "subslide"
        else:
            chosen = "fragment" if kind == "result" else "-"
        if chosen in ("slide", "subslide"):
            holds_display = False
        holds_display = holds_display or kind in ("display", "large display")
        types.append(chosen)
    return types


def with_slide_metadata(book):
    """A copy of ``book`` (a :func:`presented` lesson) with every cell's ``slideshow.slide_type`` set by
    :func:`slide_types`."""
    book = copy.deepcopy(book)
    for cell, chosen in zip(book.cells, slide_types(book)):
        cell.metadata["slideshow"] = {"slide_type": chosen}
    return book


# The slides' own look, over nbconvert's reveal template and reveal.js's theme (hence ``.slides`` in
# every selector): text from the top, a figure or table fits the slide (a long table scrolls inside
# it), the exercise boxed; and, when no reveal.js could be loaded, the deck as one page.
SLIDE_STYLE = f"""<style>
.reveal .slides {{text-align: left;}}
.reveal.ready .slides section {{height: 100%; box-sizing: border-box; padding: 10px 20px;}}
.reveal .slides h1 {{font-size: 1.9em;}} .reveal .slides h2 {{font-size: 1.5em;}}
.reveal .slides h3 {{font-size: 1.2em;}}
.reveal .slides h1, .reveal .slides h2, .reveal .slides h3 {{text-transform: none; margin-bottom: 0.4em;}}
.reveal .slides .jp-RenderedHTMLCommon p, .reveal .slides .jp-RenderedHTMLCommon li {{line-height: 1.35;}}
.reveal .slides .jp-OutputArea-output {{max-height: {SLIDE_HEIGHT - 90}px; overflow: auto;}}
.reveal .slides .jp-OutputArea-output img {{max-height: {SLIDE_HEIGHT - 100}px; max-width: 100%; width: auto;
  height: auto; margin: 0 auto; display: block;}}
/* Below a heading and its text, a figure or table has the rest of the slide. */
.reveal .slides section section:has(.jp-MarkdownCell) .jp-OutputArea-output {{max-height: {SLIDE_HEIGHT - 280}px;}}
.reveal .slides section section:has(.jp-MarkdownCell) .jp-OutputArea-output img {{max-height: {SLIDE_HEIGHT - 290}px;}}
.reveal .slides .jp-RenderedHTMLCommon table {{font-size: 18px; margin: 0;}}
.reveal .slides .jp-RenderedHTMLCommon td, .reveal .slides .jp-RenderedHTMLCommon th {{padding: 0.15em 0.5em;}}
.wb-exercise {{border: 3px solid #1a5fb4; border-radius: 8px; padding: 0.5em 0.9em; margin: 0.6em 0;}}
.wb-exercise p {{margin: 0 0 0.5em;}}
.wb-answer {{border: 2px dashed #888; border-radius: 6px; min-height: 110px; padding: 0.3em 0.6em;}}
.wb-answer-label {{color: #555; font-size: 0.8em;}}
.wb-offline {{display: none;}}
body.wb-no-reveal .wb-offline {{display: block; font: 16px system-ui, sans-serif; background: #fff3cd;
  padding: 0.6em 1em; margin: 0 0 1em;}}
body.wb-no-reveal .reveal .slides > section {{border-bottom: 2px solid #ccc; margin-bottom: 1.5em;
  padding-bottom: 1em; max-width: 60rem;}}
</style>"""

# Over nbconvert's reveal template: nothing from the web but reveal.js itself, and no require.js
# to load it. The deck tries each place in turn (the copy beside it first), adds that place's style
# sheets, and starts reveal.js for a 16:9 projector with text from the top; where none answers, it
# stays one page and says why.
_SLIDES_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block notebook_css -%}{{ super() }}{{ resources.workbench_style }}{%- endblock notebook_css -%}
{%- block body_header -%}{{ super() }}
<p class="wb-offline">These slides show as one page: reveal.js could be loaded neither from a folder
<code>{{ resources.workbench_reveal[0] | e }}</code> beside this file nor from
{{ resources.workbench_reveal[1:] | join(", ") | e }}. To present them without a network, put a copy of
reveal.js 4 in that folder (for example the <code>package</code> folder of <code>npm pack reveal.js@4.0.2</code>).</p>
{%- endblock body_header -%}
{% block footer_js %}
<script>
(function () {
  var places = {{ resources.workbench_reveal | tojson }};
  function start(place) {
    // First in the page, so that the notebook's and the workbench's own styles come after them.
    var first = document.head.firstChild;
    ["dist/reveal.css", "dist/theme/{{ resources.reveal.theme }}.css"].forEach(function (sheet) {
      var link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = place + "/" + sheet;
      document.head.insertBefore(link, first);
    });
    var notes = document.createElement("script");
    notes.src = place + "/plugin/notes/notes.js";
    notes.onload = notes.onerror = function () {
      Reveal.initialize({controls: true, progress: true, history: true, center: false, slideNumber: "c/t",
                         transition: "{{ resources.reveal.transition }}", margin: 0.03,
                         width: {{ resources.reveal.width }}, height: {{ resources.reveal.height }},
                         plugins: window.RevealNotes ? [RevealNotes] : []});
    };
    document.head.appendChild(notes);
  }
  function attempt(index) {
    if (index >= places.length) {
      document.body.classList.add("wb-no-reveal");
      return;
    }
    var script = document.createElement("script");
    script.src = places[index] + "/dist/reveal.js";
    script.onload = function () { start(places[index]); };
    script.onerror = function () { attempt(index + 1); };
    document.head.appendChild(script);
  }
  attempt(0);
})();
</script>
{% endblock footer_js %}
"""


@functools.cache
def _slides_exporter():
    """One slide exporter per process (making one compiles its templates)."""
    from jinja2 import DictLoader
    from nbconvert import SlidesExporter

    return SlidesExporter(
        template_file="workbench-slides.html.j2",
        extra_loaders=[DictLoader({"workbench-slides.html.j2": _SLIDES_TEMPLATE})],
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
        # The template's own <link>s to the style sheets point at the copy beside the deck; the
        # script adds those of the place reveal.js was loaded from.
        reveal_url_prefix=REVEAL_FOLDER, reveal_theme="simple", reveal_transition="none",
        reveal_width=str(SLIDE_WIDTH), reveal_height=str(SLIDE_HEIGHT),
    )


def slides_html(book, *, title: str, reveal_url: str = REVEAL_URL) -> str:
    """An executed learner notebook as a reveal.js slide deck, one HTML file: :func:`presented`, then
    :func:`with_slide_metadata`, then nbconvert's slides. The deck loads reveal.js from a folder
    ``reveal.js`` beside it when there is one, else from ``reveal_url``."""
    deck = with_slide_metadata(presented(book))
    deck.metadata["title"] = title
    places = [REVEAL_FOLDER] + ([reveal_url.rstrip("/")] if reveal_url.rstrip("/") != REVEAL_FOLDER else [])
    body, _ = _slides_exporter().from_notebook_node(
        deck, resources={"workbench_style": SLIDE_STYLE, "workbench_reveal": places})
    return body


def local_reveal(slides_folder: Path) -> bool:
    """Whether a copy of reveal.js 4 sits beside the decks (``slides/reveal.js/dist/reveal.js``), so
    that they need no network."""
    return (Path(slides_folder) / REVEAL_FOLDER / "dist" / "reveal.js").is_file()


# --- handouts ----------------------------------------------------------------------------

# On paper: a figure never taller than most of a page, a heading and its text kept with the table or
# figure they introduce, the exercise boxed and kept whole with room to write, and a line on how to
# check the answers.
HANDOUT_STYLE = """<style>
.wb-exercise {border: 1.5px solid #333; border-radius: 4px; padding: 0.5em 0.8em 0.6em; margin: 0.9em 0;
  break-inside: avoid; page-break-inside: avoid;}
.wb-exercise p {margin: 0 0 0.4em;}
.wb-answer {border: 1px dashed #777; border-radius: 3px; min-height: 2.4cm; padding: 0.2em 0.5em;}
.wb-answer-label {color: #555; font-size: 0.85em;}
.wb-handout-note {font: 0.85rem system-ui, sans-serif; color: #444; border-top: 1px solid #ccc;
  margin-top: 1.2rem; padding-top: 0.4rem;}
.jp-OutputArea-output img {max-height: 60vh; width: auto;}
@media print {
  .jp-OutputArea-output img {max-height: 185mm !important; width: auto !important;}
  .wb-exercise {break-inside: avoid;}
  .jp-MarkdownCell:has(+ .jp-CodeCell img), .jp-MarkdownCell:has(+ .jp-CodeCell table.dataframe) {break-after: avoid;}
}
</style>"""


def handout_html(book, *, lesson: Lesson, learner_notebook: str) -> str:
    """An executed learner notebook as a printable handout page: the lesson's text, tables, figures and
    exercise boxes, no code, in the report page of :func:`workbench.reports.publishing.to_html`."""
    import nbformat

    from workbench.reports.publishing import to_html

    with tempfile.TemporaryDirectory(prefix="workbench-handout-") as scratch:
        notebook = Path(scratch) / f"{lesson.name}.ipynb"
        nbformat.write(presented(book), notebook)
        page = to_html(notebook, title=f"Lesson {lesson.number}: {lesson.title}", study_title="Teaching set")
    note = (f'<p class="wb-handout-note">Write your answers in the boxes. To check them, open the lesson in '
            f"JupyterLab ({html.escape(learner_notebook)}), put each answer in its exercise cell and run the "
            "check below it.</p>")
    page = page.replace("</head>", HANDOUT_STYLE + "</head>", 1)
    closing = page.rfind("</body>")
    return page[:closing] + note + page[closing:] if closing >= 0 else page + note


# --- writing both --------------------------------------------------------------------------


@dataclass
class LessonOutputs:
    """What :func:`write_lesson_outputs` wrote: slide decks, handout pages and PDFs, where reveal.js
    is loaded from, and why no PDF was printed (``skipped``), if none was."""

    slides: list[Path] = field(default_factory=list)
    handouts: list[Path] = field(default_factory=list)  # the HTML pages
    pdfs: list[Path] = field(default_factory=list)
    reveal_url: str = REVEAL_URL  # where the decks load reveal.js from when no copy is beside them
    reveal_local: bool = False  # a copy of reveal.js is beside them: they need no network
    skipped: str | None = None
    seconds: float = 0.0
    pdf_seconds: float = 0.0


def write_lesson_outputs(project: Project, *, lessons: tuple[Lesson, ...] = LESSONS, pdf: bool = True,
                         browser=None, reveal_url: str = REVEAL_URL) -> LessonOutputs:
    """Write every lesson's slides and handout under :attr:`Project.teaching_outputs`, from its executed
    learner notebook in ``notebooks/teaching/learner/``:

    - ``slides/NN-name.slides.html``: the reveal.js deck (:func:`slides_html`);
    - ``handouts/NN-name.html`` and ``handouts/NN-name.pdf``: the handout page and its print
      (:func:`handout_html`), all PDFs by one headless Chromium.

    Each file is written atomically; decks and handouts of lessons that are gone are removed.
    The decks load reveal.js from a copy in ``slides/reveal.js/`` when there is one (put there by
    hand; :func:`local_reveal`), else from ``reveal_url``. Without a browser (or with
    ``pdf=False``) the PDFs are not printed and :attr:`LessonOutputs.skipped` says why, in one line;
    the slides and handout pages are written all the same.
    """
    import nbformat

    from workbench.form import BrowserError, html_files_to_pdfs
    from workbench.io.files import write_text_atomic

    started = time.perf_counter()
    target = project.teaching_outputs
    slides_folder, handouts_folder = target / "slides", target / "handouts"
    run = LessonOutputs(reveal_url=reveal_url, reveal_local=local_reveal(slides_folder))
    learner = project.notebooks_dir / "teaching" / "learner"
    for lesson in lessons:
        notebook = learner / f"{lesson.name}.ipynb"
        if not notebook.is_file():
            raise FileNotFoundError(f"no learner notebook for lesson {lesson.number} at {project.shown(notebook)}: "
                                    "run `workbench teaching` to generate and execute the lessons")
        book = nbformat.read(notebook, as_version=4)
        deck = slides_folder / f"{lesson.name}.slides.html"
        write_text_atomic(deck, slides_html(book, title=f"Lesson {lesson.number}: {lesson.title}",
                                            reveal_url=run.reveal_url))
        run.slides.append(deck)
        page = handouts_folder / f"{lesson.name}.html"
        write_text_atomic(page, handout_html(book, lesson=lesson, learner_notebook=project.shown(notebook)))
        run.handouts.append(page)
    names = {lesson.name for lesson in LESSONS}
    for stale in [*slides_folder.glob("[0-9][0-9]-*.slides.html"), *handouts_folder.glob("[0-9][0-9]-*.*")]:
        if stale.name.split(".")[0] not in names:
            stale.unlink()
    if not pdf:
        run.skipped = "not asked for"
    else:
        printing = time.perf_counter()
        try:
            html_files_to_pdfs([(page, page.with_suffix(".pdf")) for page in run.handouts], browser=browser)
            run.pdfs = [page.with_suffix(".pdf") for page in run.handouts]
        except BrowserError as error:
            run.skipped = str(error).removeprefix("cannot print to PDF: ")
        run.pdf_seconds = time.perf_counter() - printing
    run.seconds = time.perf_counter() - started
    return run
