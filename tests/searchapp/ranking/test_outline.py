"""A hit in source code named by the definitions holding its line (``outline.py``)."""

from __future__ import annotations

import pytest

from searchapp.ranking.outline import outline
from searchapp.search_index import SearchIndex
from tests.searchapp.conftest import FakeEncoder

PYTHON = """\
import os


class Segment(NamedTuple):
    text: str

    @classmethod
    def split_cells(
        cls,
        cut: int,
    ) -> tuple:
        '''Split it.'''
        # a comment at the margin
        if cut > 0:
            return cls(text[:cut])
"""


def lines_above(text: str, marker: str) -> tuple[str, str]:
    lines = text.split("\n")
    at = next(n for n, line in enumerate(lines) if marker in line)
    return "\n".join(lines[:at]), lines[at]


@pytest.mark.parametrize(
    ("marker", "section"),
    [
        ("return cls(", "Segment.split_cells"),  # below a header over several lines
        ("'''Split it.'''", "Segment.split_cells"),
        ("def split_cells(", "Segment.split_cells"),  # the line declaring it names it
        ("cut: int,", "Segment.split_cells"),
        ("text: str", "Segment"),
        ("class Segment", "Segment"),
        ("import os", None),  # the top level
    ],
)
def test_the_definitions_holding_a_line_of_python(marker, section) -> None:
    assert outline(*lines_above(PYTHON, marker)) == section


@pytest.mark.parametrize(
    ("code", "marker", "section"),
    [
        # Elsewhere JavaScript's keywordless shapes are calls and blocks (a reviewer's).
        (
            "static int probe(struct dev *d)\n{\n\tlist_for_each_entry(pos, &head, list) {\n"
            "\t\tcount++;\n",
            "count++",
            "probe",
        ),
        (
            "class Repo {\n    suspend fun load() {\n        withContext(Dispatchers.IO) {\n"
            "            read()\n",
            "read()",
            "Repo.load",
        ),
        (
            "func (s *Server) Serve(l net.Listener) error {\n\tfor {\n\t\tconn := accept()\n",
            "conn := accept()",
            "Serve",
        ),
        (
            "impl fmt::Display for Point {\n    fn fmt(&self) -> Result {\n"
            "        } else {\n        write!(f)\n",
            "write!(f)",
            "Point.fmt",  # the type's: every Display impl was "fmt::Display"
        ),
        # C and C++: no keyword declares a function; a type begins its header.
        ("int main(void) {\n    return 0;\n}\n", "return 0;", "main"),
        ("static int\nmain (int argc)\n{\n  if (argc)\n    return 0;\n", "return 0;", "main"),
        (
            "static inline void Py_INCREF(PyObject *op)\n{\n    op->ob_refcnt++;\n}\n",
            "ob_refcnt++",
            "Py_INCREF",
        ),
        (
            "namespace c10 {\nclass SymInt;\nclass C10_API SymBool {\n public:\n"
            "  bool guard_bool(const char* file) const;\n",
            "guard_bool",
            "SymBool",  # not the export macro, nor the class declared ahead
        ),
        ("class SymInt;\n", "class SymInt;", None),
        ("struct stat st = {\n  .st_mode = 0,\n};\n", ".st_mode", None),  # a variable
        (
            "inline at::Tensor IValue::toTensor() && {\n  AT_ASSERT(isTensor());\n",
            "AT_ASSERT",
            "IValue::toTensor",
        ),
        (
            "public class Calc {\n    public int add(int a, int b) {\n        return a + b;\n",
            "return a + b;",
            "Calc.add",
        ),
        # A call, a prototype and a sentence hold nothing.
        ("void run(void);\nint x;\n", "int x;", None),
        ("Use memcpy(dst, src) to copy\nthe bytes.\n", "the bytes.", None),
        # SQL at the margin of a string: no `§ count` (the margin ends what holds it).
        ('def run():\n    sql = """\nSELECT count(*)\n  FROM users\n', "FROM users", None),
        ("GitHub runs the\nparse(x) step first.\n  and more\n", "and more", None),
        # R assigns its functions (an ecologist's `fit_occupancy` hits named no section).
        (
            "fit_occupancy <- function(y, covs,\n                          det = ~1) {\n"
            "  fit <- occu(y)\n  fit\n}\n",
            "fit <- occu",
            "fit_occupancy",
        ),
        ("res <- fit_occupancy(y)\nplot(res)\n", "plot(res)", None),  # a call's result
    ],
)
def test_the_definitions_holding_a_line_in_other_languages(code, marker, section) -> None:
    assert outline(*lines_above(code, marker)) == section


@pytest.mark.parametrize(
    ("code", "marker", "section"),
    [
        (
            "export default class App {\n  async render(x) {\n  }\n  handle() {\n"
            "    return 1;\n  }\n}\n",
            "return 1;",
            "App.handle",  # a method without a keyword, by its shape
        ),
        # JavaScript and TypeScript: methods by their shape, functions held by a name.
        (
            "export class PasswordHasher {\n  private readonly cost = 12;\n\n"
            "  async hash(password: string): Promise<string> {\n"
            "    return bcrypt.hash(password, this.cost);\n",
            "return bcrypt",
            "PasswordHasher.hash",
        ),
        (
            "interface Opts { max: number }\n\nexport const rateLimit = (opts: Opts): "
            "Middleware => {\n  const hits = new Map();\n  return (req, res, next) => {\n"
            "    if (hits.get(req.ip) > opts.max) {\n      res.status(429);\n",
            "res.status(429)",
            "rateLimit",
        ),
        (
            "module.exports = function errorHandler(err, req, res, next) {\n"
            "  res.status(500).send(err.message);\n",
            "res.status(500)",
            "errorHandler",
        ),
        (
            "const api = {\n  async save(doc) {\n    await db.put(doc);\n  },\n"
            "  remove: (id) => {\n    db.del(id);\n",
            "db.del(id)",
            "remove",  # `const api = {` holds an object, no function
        ),
        (
            "class Cart {\n  total = () => {\n    return this.items.length;\n",
            "return this.items",
            "Cart.total",
        ),
        # A test's callbacks and a statement's braces declare nothing.
        (
            "describe('cart', () => {\n  it('adds', async () => {\n    expect(add(1)).toBe(1);\n",
            "expect(add(1))",
            None,
        ),
        (
            "function run(items) {\n  for (const item of items) {\n    if (item.ok) {\n"
            "      send(item);\n",
            "send(item)",
            "run",
        ),
    ],
)
def test_the_definitions_holding_a_line_of_javascript(code, marker, section) -> None:
    assert outline(*lines_above(code, marker), javascript=True) == section


def test_a_hit_in_code_names_the_method_holding_it(tmp_path) -> None:
    # A Markdown hit named its headings; one in code named nothing, so an agent had to read
    # the file to learn which method it was in, though the class began many passages above.
    methods = "".join(
        f"    def method_{n}(self, value):\n"
        f"        '''Handle the {n}th case of the request.'''\n"
        f"        return value + {n}  # marker{n}\n\n"
        for n in range(60)
    )
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "big.py").write_text(f"import os\n\n\nclass Big:\n{methods}", "utf-8")
    (docs / "notes.md").write_text("# Title\n\nmarker57 is in a note too\n", "utf-8")
    index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder())
    index.add([docs])
    hits = {hit.path: hit for hit in index.search("marker57", k=5, mode="lexical")}
    hit = hits[str(docs / "big.py")]
    assert hit.start_line > 100 and hit.section == "Big.method_57", hit
    assert hits[str(docs / "notes.md")].section == "Title"  # a heading path stays one


def test_a_definitions_lines_from_its_decorators_to_its_closing_bracket() -> None:
    from searchapp.ranking.outline import definition_span

    python = PYTHON.split("\n")
    at = next(n for n, line in enumerate(python) if "return cls(" in line)
    first, last = definition_span(python, at)
    assert python[first].strip() == "@classmethod" and "return cls(" in python[last]
    js = "class App {\n  render() {\n    return 1;\n  }\n}\nconst after = 2;\n".split("\n")
    assert definition_span(js, 0, javascript=True) == (0, 4)  # a line of the class's own
    assert definition_span(js, 1, javascript=True) == (1, 3)  # the method's
    assert definition_span(js, 2, javascript=True) == (1, 3)
    assert definition_span(js, 5, javascript=True) is None  # the top level
    # In a block of a class that declares nothing (a static initialiser): not the whole class
    # (a Java class of 400 lines was printed for a line of one method); the passage is.
    static = "class App {\n  static {\n    init();\n  }\n}\n".split("\n")
    assert definition_span(static, 2, javascript=True) is None
    # An arrow function held by a name: the whole of it, to its closing `};`.
    ts = "interface A { b: number }\nexport const f = (a: A) => {\n  if (a.b) {\n"
    ts += "    return 1;\n  }\n  return 2;\n};\nexport const g = 3;\n"
    ts_lines = ts.split("\n")
    assert definition_span(ts_lines, 3, javascript=True) == (1, 6)
    # An interface's member typed as a function is no function: the interface holds it.
    props = "interface ButtonProps {\n  label: string;\n  onClick: (e: MouseEvent) => void;\n}\n"
    assert definition_span(props.split("\n"), 2, javascript=True) == (0, 3)
    # A C function: from its type (on the line above, GNU style) to its closing brace.
    c = "#include <stdio.h>\n\nstatic void\nrun(const float *q,\n    int n)\n{\n"
    c += "    for (;;) {\n        step(q);\n    }\n    done(n);\n}\n\nint other(void);\n"
    c_lines = c.split("\n")
    assert definition_span(c_lines, c_lines.index("    done(n);")) == (2, 10)
    assert definition_span(c_lines, c_lines.index("        step(q);")) == (2, 10)


def test_a_span_always_holds_the_line_asked_for() -> None:
    # From a review: a multi-line decorator's argument was given the function above it, and
    # a comment or a string at the margin inside a function ended it before the line.
    from searchapp.ranking.outline import definition_span, holding

    cli = [
        "def helper(path):",
        "    return path",
        "",
        "@click.command()",
        "@click.option(",
        '    "--force",',
        "    is_flag=True,",
        ")",
        "def build(force):",
        "    run(force)",
        "",
        "x = 1",
    ]
    assert [name for _, name in holding(cli, 5)] == ["build"]
    assert definition_span(cli, 5) == (3, 9)
    commented = ["def save(w):", "    db.add(w)", "#    db.commit()", "    log(w)", "", "y = 2"]
    assert definition_span(commented, 3) == (0, 3)
    sql = ["def query(db):", '    return db.run("""', "SELECT *", "FROM t", '""")', "z = 3"]
    # A line at the margin tells nothing of what holds it: the passage is printed for it.
    assert definition_span(sql, 4) is None and definition_span(sql, 1) == (0, 1)
    ruby = ["class Greeter", "  def hello", "    puts 'hi'", "  end", "end"]
    assert definition_span(ruby, 2) == (1, 3)
    props = ["class A:", "    @property", "    def size(self):", "        return 1", "", "b = 2"]
    assert definition_span(props, 1) == (1, 3)  # a decorator: the method it decorates


def test_a_hit_in_a_decorators_arguments_names_what_it_decorates(tmp_path) -> None:
    # `"--force",` inside a multi-line `@click.option(` was given the function above it.
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tool.py").write_text(
        "def helper(path):\n    return path\n\n\n@click.command()\n@click.option(\n"
        '    "--force",\n    is_flag=True,\n)\ndef build(force):\n    run(force)\n',
        "utf-8",
    )
    index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder())
    index.add([docs])
    [hit] = index.search("--force", k=1)
    assert (hit.line, hit.section) == (7, "build")


def test_a_rust_impl_block_is_its_types_and_a_macro_its_own() -> None:
    # A Go and Rust developer's trial: `impl fmt::Display for Money`'s lines were labelled
    # "fmt::Display", and those of `impl LedgerStore for MemoryStore` "LedgerStore".
    code = "impl fmt::Display for Money {\n    fn fmt(&self) -> String {\n        todo!()\n"
    assert outline(*lines_above(code, "todo!")) == "Money.fmt"
    code = "impl<T> LedgerStore for MemoryStore<T> {\n    fn apply(&self) {\n        x()\n"
    assert outline(*lines_above(code, "x()")) == "MemoryStore.apply"
    code = "macro_rules! entry {\n    ($a:expr) => { Entry::new($a) };\n"
    assert outline(*lines_above(code, "Entry::new")) == "entry"
    code = "func (s *Service) CancelOrder(ctx context.Context) error {\n\treturn nil\n"
    assert outline(*lines_above(code, "return nil")) == "CancelOrder"
