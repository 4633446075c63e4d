"""Where code defines a name the query spells as code (``definitions.py``); the searcher's use of
it: ``test_searcher.py``."""

from __future__ import annotations

import pytest

from searchapp.ranking.definitions import code_names, defined_share, whole_name
from searchapp.ranking.outline import syntax_of


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("DefaultFilter", ["DefaultFilter"]),
        ("insert_all", ["insert_all"]),
        ("DEFAULT_TIMEOUT_CONFIG", ["DEFAULT_TIMEOUT_CONFIG"]),
        ("Client.send", ["send"]),
        ("at::native::add_out(", ["add_out"]),
        ("def send(", ["send"]),
        ("class Progress", ["Progress"]),  # not the ProgressSample above it
        ("fn main", ["main"]),
        ("TrustedHostMiddleware allowed_hosts", ["TrustedHostMiddleware", "allowed_hosts"]),
        # Words, not names: a question, prose with "e.g.", a pasted message naming its class.
        ("how do filters work", []),
        ("flow over a plate, e.g. a wing", []),
        ("httpx2.TooManyRedirects: Exceeded maximum allowed redirects.", []),
    ],
)
def test_names_spelled_as_code(query, names) -> None:
    assert code_names(query) == names


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("Console", "Console"),  # capitalised, alone: a class's name
        ("class Console", "Console"),
        ("async def send(", "send"),
        ("send()", "send"),
        ("Client.send", "send"),
        # C++ (a helper's trial on torch's headers): the method was second to its class's
        # struct, and a call of `c10::hash_combine(` ranked above its definition.
        ("IValue::toTensor", "toTensor"),
        ("c10::hash_combine", "hash_combine"),
        ("insert_all", "insert_all"),
        ("pub fn main", "main"),
        ("--verbose", "--verbose"),  # a flag: declared as a string
        ("-v", "-v"),
        # A plain word, an acronym, a keyword alone, more than a name, prose.
        ("console", None),
        ("NASA", None),
        ("class", None),
        ("Console width", None),
        ("how do filters work", None),
        ("e.g", None),
    ],
)
def test_a_query_that_is_one_name_alone(query, name) -> None:
    assert whole_name(query) == name
    assert code_names(query) == ([name] if name else [])


def test_a_definition_is_a_declaration_or_an_assignment_at_a_lines_start() -> None:
    assert defined_share(["insert_all"], "    def insert_all(\n        self,") == 1.0
    assert defined_share(["insert_all"], "return self.insert_all(rows)") == 0.0
    assert defined_share(["DefaultFilter"], "class DefaultFilter(BaseFilter):") == 1.0
    assert defined_share(["DefaultFilter"], "class PythonFilter(DefaultFilter):") == 0.0
    assert defined_share(["LIMIT"], "LIMIT: int = 5\nx = LIMIT") == 1.0
    assert defined_share(["LIMIT"], "if LIMIT == 5:\n    pass") == 0.0
    assert defined_share(["LIMIT"], "class A:\n    LIMIT = 5") == 1.0  # a constant, indented
    # An indented name = ... is a local alias, no definition: `def render(` found this first.
    assert defined_share(["render"], "    render = self.render\n    render(x)") == 0.0
    assert defined_share(["render"], "render = make_renderer()") == 1.0
    assert defined_share(["send", "stream"], "async def send(self, request):") == 0.5
    assert defined_share(["run"], "export function run(argv) {") == 1.0
    assert defined_share([], "def x(): pass") == 0.0


def test_a_hit_names_the_line_defining_the_name_not_a_docstring_saying_it() -> None:
    # `Console.print` named `"""Print to the console.` (both words) over `def print(`.
    from searchapp.ranking.definitions import defining
    from searchapp.ranking.query_words import BestLine

    text = 'def print(\n    self, *objects,\n) -> None:\n    """Print to the console.'
    weights = {"console": 2.0, "print": 1.0}
    assert BestLine(weights).line(text, 10) == 13
    assert BestLine(weights, definitions=[defining("print")]).line(text, 10) == 10


def test_the_class_a_definition_lies_in() -> None:
    from searchapp.ranking.definitions import enclosing_class

    assert enclosing_class("class A:\n    x = 1\n\n", 4) == "A"
    # Bases over several lines; a comment at the margin; blank lines.
    assert enclosing_class("class B(\n    Base,\n):\n# note\n    y = 2\n\n", 4) == "B"
    assert enclosing_class("class A:\n    def f(self):\n        z = 1\n", 8) == ""  # nested
    assert enclosing_class("x = 1\n", 0) is None  # the top level
    # A text's first line has lost its indentation: only a class it declares is taken.
    assert enclosing_class("def g(self):\n        pass\n", 4) is None
    assert enclosing_class("class C:\n    pass\n", 4) == "C"


def test_a_qualified_name_is_defined_only_in_its_class() -> None:
    # `ParamType.convert` ranked `UnprocessedParamType.convert` first: every `def convert`
    # defined it alike.
    qualified = {"convert": "ParamType"}
    method = "def convert(self, value):\n        return value"
    before = "class UnprocessedParamType(ParamType):\n    name = 'text'\n\n    "
    assert defined_share(["convert"], method, qualified, before) == 0.0
    assert defined_share(["convert"], method, qualified, before.replace("Unprocessed", "")) == 1.0
    assert defined_share(["convert"], method, None, before) == 1.0  # not qualified: any class
    # In the passage itself, and a module's function (`click.echo`): no class holds it.
    inside = "class ParamType:\n    def convert(self, value):\n        pass"
    assert defined_share(["convert"], inside, qualified) == 1.0
    assert defined_share(["echo"], "def echo(message):\n    pass", {"echo": "click"}) == 1.0
    # A subclass's method first, then the class's own, in one passage.
    both = "class Sub(ParamType):\n    def convert(self):\n        pass\n\n" + inside
    assert defined_share(["convert"], both, qualified) == 1.0


def test_a_class_qualified_query_finds_the_method_of_that_class(tmp_path) -> None:
    from tests.searchapp.ingest.test_pipeline import make_index

    classes = []
    for name in ("UnprocessedParamType", "ParamType", "StringParamType"):
        classes.append(
            f"class {name}(Base):\n"
            f'    """The {name} type of a parameter, as the command line gives it."""\n\n'
            f'    name = "{name.lower()}"\n\n'
            "    def convert(self, value, param, ctx):\n"
            + (  # a subclass's calls its base's: the words of the query, once more
                "        return self.fail(value)\n"
                if name == "ParamType"
                else "        return ParamType.convert(self, str(value), param, ctx)\n"
            )
        )
    docs = tmp_path / "src"
    docs.mkdir()
    source = "\n\n".join(classes)
    (docs / "types.py").write_text(source, "utf-8")
    index = make_index(tmp_path / "idx")
    index.add([docs])
    hits = index.search("ParamType.convert", k=3, per_doc=3, mode="lexical")
    method_line = source[: source.index("def convert", source.index("class ParamType"))]
    assert hits[0].line == method_line.count("\n") + 1
    # Each passage's text before it is the file's, its blank lines and indentation put back.
    rows = index.store.rows("SELECT id, start_char FROM chunks ORDER BY ordinal")
    before = index.store.texts_before([chunk_id for chunk_id, _ in rows])
    assert before and all(source[:start].endswith(before[i]) for i, start in rows if i in before)


def test_a_hit_names_the_method_of_the_class_asked_for() -> None:
    # One passage holding both classes: `CsvParser.total` named `BaseParser.total`'s line.
    import functools

    from searchapp.ranking.definitions import defined_elsewhere, defining
    from searchapp.ranking.query_words import BestLine

    text = (
        "class BaseParser:\n    def total(self):\n        return 0\n\n\n"
        "class CsvParser(BaseParser):\n    def total(self):\n        return sum(self.rows)\n"
    )
    weights = {"csvparser": 2.0, "total": 1.0}
    plain = BestLine(weights, definitions=[defining("total")])
    asked = BestLine(
        weights,
        definitions=[defining("total")],
        elsewhere=functools.partial(defined_elsewhere, {"total": "CsvParser"}),
    )
    assert plain.line(text, 1) == 2  # the first definition
    assert asked.line(text, 1) == 7  # the one in CsvParser
    base = functools.partial(defined_elsewhere, {"total": "BaseParser"})
    assert BestLine(weights, definitions=[defining("total")], elsewhere=base).line(text, 1) == 2


def test_a_class_far_above_its_method_is_read(tmp_path) -> None:
    # requests' `class Session` is 350 lines above its `def send`: past the two passages read
    # above a definition, so `Session.send` ranked `HTTPAdapter.send` (its class near) first.
    from tests.searchapp.ingest.test_pipeline import make_index

    methods = "".join(
        f"    def method_{n}(self, value):\n        '''Step {n} of the work.'''\n"
        f"        return value + {n}\n\n"
        for n in range(60)
    )
    docs = tmp_path / "src"
    docs.mkdir()
    session = f"class Session:\n{methods}    def send(self, request):\n        return request\n"
    (docs / "sessions.py").write_text(session, "utf-8")
    (docs / "adapters.py").write_text(
        # The query's words more often, nearer: only its class tells it apart.
        f"class HTTPAdapter:\n{methods}    def send(self, request):\n"
        "        '''Send a request of a session, as the session asks.'''\n",
        "utf-8",
    )
    index = make_index(tmp_path / "idx")
    index.add([docs])
    for mode in ("lexical", "hybrid"):
        hits = index.search("Session.send", k=2, mode=mode)
        assert hits[0].path == str(docs / "sessions.py"), (mode, hits)
        assert hits[0].line == session[: session.index("def send")].count("\n") + 1


def test_imports_locals_and_uses_are_not_definitions() -> None:
    # Three `const BaseCommand = require(...)` ranked above `class BaseCommand`; a local
    # `const json = ...` in a method above `async def json`; `raise ConnectTimeout` put the
    # class above the line raising it.
    assert defined_share(["BaseCommand"], "const BaseCommand = require('../base-cmd.js')") == 0
    assert defined_share(["X"], "let X = await import('./x.js')") == 0
    assert defined_share(["BaseCommand"], "class BaseCommand {") == 1.0
    assert defined_share(["reify"], "const reify = async (npm) => {") == 1.0
    assert defined_share(["json"], "  run() {\n    const json = this.get('json')") == 0
    assert defined_share(["MAX"], "impl A {\n    const MAX: usize = 5;") == 1.0  # a constant
    for query in ("raise ConnectTimeout", "throw new HttpError(", "except KeyError"):
        assert code_names(query) == [] and whole_name(query) is None, query


@pytest.mark.parametrize(
    ("name", "text", "share"),
    [
        # C and C++ (a helper's trial on torch's headers and CPython's): the export macro hid
        # `struct TORCH_API IValue`, `class SymInt;` took its place, and neither `#define
        # TORCH_CHECK` nor `static inline void Py_INCREF(` was read as a definition.
        ("IValue", "struct TORCH_API IValue final {", 1.0),
        ("SymInt", "class C10_API SymInt {", 1.0),
        ("SymInt", "namespace c10 {\nclass SymInt;\n}", 0),
        ("TORCH_CHECK", "#define TORCH_CHECK(cond, ...) \\", 1.0),
        ("Py_INCREF", "static inline void Py_INCREF(PyObject *op)\n{", 1.0),
        ("memcpy", "extern void *memcpy (void *__restrict __dest, const void *__src,", 1.0),
        ("toTensor", "inline at::Tensor IValue::toTensor() && {", 1.0),
        ("add", "    public int add(int a, int b) {", 1.0),
        # A constructor is its class's: `IValue` is defined by the class, not by these.
        ("IValue", "  explicit IValue(c10::intrusive_ptr<ivalue::EnumHolder> v);", 0),
        ("IValue", "inline IValue::IValue(c10::intrusive_ptr<at::Quantizer> v)", 0),
        # Calls, statements and sentences define nothing.
        ("Py_INCREF", "    Py_INCREF(self->owner);", 0),
        ("count", "    int n = count(items);", 0),
        ("count", "    return count(items);", 0),
        ("memcpy", "Use memcpy(dst, src) to copy the bytes", 0),
        # A reviewer's: sentences, SQL and a prototype read as C headers.
        ("retry_request", "HTTP clients in this repo call retry_request(fn) around", 0),
        ("parse", "GitHub runs the parse(x) step first.", 0),
        ("parse", "int values are passed to parse(x)", 0),
        ("parse", "void is returned when parse(x) fails", 0),
        ("parse", "    JSON documents are passed to parse(x), which returns", 0),
        ("parse", "    EXPECT_EQ parse(x)", 0),
        ("count", "SELECT count(*) FROM users", 0),
        ("instr", "  AND instr(text, ?) > 0", 0),
        ("users", "INSERT INTO users(id, name)", 0),
        ("parse", "int parse(char *s);", 0),
        ("parse", "static my_struct *parse(const char *s)", 1.0),
        ("foo", "PyObject *foo(PyObject *self)", 1.0),
        ("toTensor", "  const IValue& toTensor() const {", 1.0),
        # A comment's "of type X" is no declaration (a helper's trial on torch's headers:
        # three such comments ranked with `class DispatchKeySet final {`); Go, TypeScript
        # and Rust declare with it at a line's start.
        ("DispatchKeySet", "  // the first parameter is of type DispatchKeySet.", 0),
        ("DispatchKeySet", " * a module DispatchKeySet is read from", 0),
        ("Handler", "type Handler struct {", 1.0),
        ("Options", "export type Options = {", 1.0),
        ("Alias", "    pub(crate) type Alias = u32;", 1.0),
        ("Shape", "export interface Shape {", 1.0),
        ("Render", "pub trait Render {", 1.0),
        ("parse", "sub parse {", 1.0),
        # A reviewer's: Objective-C, Java annotations, nested interfaces, Scala's scoped access.
        ("NSFoo", "@interface NSFoo : NSObject", 1.0),
        ("MyAnno", "public @interface MyAnno {", 1.0),
        ("Listener", "    public static interface Listener {", 1.0),
        ("Foo", "private[core] trait Foo {", 1.0),
        # Rust's unit struct is one; C's declared ahead is not.
        ("Marker", "/// A marker\npub struct Marker;", 1.0),
        ("stat", "struct stat;", 0),
    ],
)
def test_c_and_cpp_definitions(name, text, share) -> None:
    assert defined_share([name], text) == share


def test_a_cpp_class_behind_its_export_macro_is_found_by_its_name(tmp_path) -> None:
    # `IValue` alone ranked constructors and uses first, and `struct TORCH_API IValue final {`
    # outside the first 30: the macro kept it from the passages read as declaring it.
    from tests.searchapp.ingest.test_pipeline import make_index

    docs = tmp_path / "src"
    docs.mkdir()
    for n in range(150):  # more passages using the name than a ranker's first 100
        (docs / f"use{n}.h").write_text(
            f"inline IValue make_{n}(IValue a, IValue b) {{\n  return IValue(a, b, {n});\n}}\n"
        )
    about = " ".join(f"the interpreter passes word{n} around" for n in range(30))
    (docs / "ivalue.h").write_text(
        f"#pragma once\n\nnamespace c10 {{\n/// {about}\n"
        "struct TORCH_API IValue final {\n  int tag;\n};\n}  // namespace c10\n"
    )
    index = make_index(tmp_path / "idx")
    index.add([docs])
    for query in ("IValue", "struct IValue"):
        for mode in ("hybrid", "lexical"):
            hits = index.search(query, k=3, mode=mode)
            assert (hits[0].path, hits[0].line) == (str(docs / "ivalue.h"), 5), (query, mode)


@pytest.mark.parametrize(
    ("name", "text", "share"),
    [
        # A TypeScript developer's (a helper's trial): methods declared without a keyword and
        # functions held by a name were no definitions, so tests and callers ranked first.
        ("placeOrder", "export class OrderService {\n  placeOrder(items: Item[]) {", 1.0),
        ("hash", "  async hash(password: string): Promise<string> {", 1.0),
        ("needsRehash", "  private needsRehash(hash: string): boolean {", 1.0),
        ("total", "  get total(): number {", 1.0),
        ("rateLimit", "export const rateLimit = (opts: Opts): Middleware => {", 1.0),
        ("errorHandler", "module.exports = function errorHandler(err, req, res, next) {", 1.0),
        ("parse", "exports.parse = function (text) {", 1.0),
        ("handle", "class A {\n  handle = async (req: Request) => {", 1.0),
        ("save", "const api = {\n  save: (doc) => {", 1.0),
        # Calls, callbacks, a signature and a capitalised constructor define nothing.
        ("placeOrder", "    const order = await this.orders.placeOrder(items);", 0),
        ("placeOrder", "  it('places', async () => {\n    placeOrder([item]);", 0),
        ("placeOrder", "  placeOrder(items: Item[]): Promise<Order>;", 0),
        ("rateLimit", "app.use(rateLimit({ max: 10 }));", 0),
        ("result", "  const result = items.map((x) => x * 2);", 0),
        ("IValue", "  IValue(int v) {", 0),
    ],
)
def test_javascript_and_typescript_definitions(name, text, share) -> None:
    assert defined_share([name], text, syntax="javascript") == share


@pytest.mark.parametrize(
    ("name", "text"),
    [
        # A reviewer's: in other languages the same shapes are calls and blocks.
        ("list_for_each_entry", "\tlist_for_each_entry(pos, &head, list) {"),
        ("withContext", "    withContext(Dispatchers.IO) {"),
        ("repeat", "    repeat(3) {"),
        ("withAnimation", "        withAnimation(.easeInOut) {"),
        ("save", "  save: (doc) => {"),
        # Nor, in TypeScript, an interface's member typed as a function.
        ("onClick", "interface ButtonProps {\n  onClick: (event: MouseEvent) => void;"),
    ],
)
def test_keywordless_shapes_define_nothing_outside_javascript(name, text) -> None:
    assert defined_share([name], text) == 0
    if name == "onClick":
        assert defined_share([name], text, syntax="javascript") == 0


def test_a_typescript_method_ranks_above_its_tests_and_callers(tmp_path) -> None:
    from tests.searchapp.ingest.test_pipeline import make_index

    src, tests = tmp_path / "proj" / "services", tmp_path / "proj" / "__tests__"
    src.mkdir(parents=True)
    tests.mkdir()
    service = (
        "import { db } from '../db';\n\nexport class PasswordHasher {\n"
        "  constructor(private readonly cost = 12) {}\n\n"
        "  needsRehash(hash: string): boolean {\n    return !hash.startsWith('$2b$12');\n  }\n\n"
        "  async hash(password: string): Promise<string> {\n"
        "    return bcrypt.hash(password, this.cost);\n  }\n}\n\n"
        "export class OrderService {\n  async placeOrder(items: Item[]): Promise<Order> {\n"
        "    const order = { items, total: items.length };\n"
        "    await db.insert(order);\n    return order;\n  }\n}\n"
    )
    (src / "services.ts").write_text(service, "utf-8")
    (tests / "orders.test.ts").write_text(
        "describe('placeOrder', () => {\n  it('places an order', async () => {\n"
        "    const order = await new OrderService().placeOrder([item]);\n"
        "    expect(order.items).toEqual([item]);\n    // placeOrder stores the order\n"
        "  });\n});\n",
        "utf-8",
    )
    (src / "checkout.ts").write_text(
        "export async function checkout(cart: Cart) {\n"
        "  return orders.placeOrder(cart.items); // placeOrder\n}\n",
        "utf-8",
    )
    index = make_index(tmp_path / "idx")
    index.add([tmp_path / "proj"])
    lines = service.split("\n")
    for query, marker, modes in (
        ("placeOrder", "async placeOrder(", ("lexical", "hybrid")),
        ("needsRehash", "needsRehash(hash", ("lexical", "hybrid")),
        # Lexical ranking wants both words in a passage: the class's name is far above.
        ("PasswordHasher.hash", "async hash(", ("hybrid",)),
    ):
        for mode in modes:
            top = index.search(query, k=3, mode=mode)[0]
            assert top.path.endswith("services.ts"), (query, mode, top.path)
            assert marker in lines[top.line - 1], (query, mode, top.line)


def test_a_cpp_qualified_name_finds_its_definition(tmp_path) -> None:
    from searchapp.ranking.definitions import qualifiers
    from tests.searchapp.ingest.test_pipeline import make_index

    assert qualifiers("IValue::toTensor") == {"toTensor": "IValue"}
    assert whole_name("rich.console") is None  # a Python module's path: the module is asked
    docs = tmp_path / "src"
    docs.mkdir()
    for n in range(6):
        (docs / f"use{n}.cpp").write_text(
            f"size_t h{n}(size_t s) {{\n  return c10::hash_combine(s, {n});\n}}\n"
        )
    (docs / "hash.h").write_text(
        "namespace c10 {\n\ninline size_t hash_combine(size_t seed, size_t value) {\n"
        "  return seed ^ (value + 0x9e3779b9 + (seed << 6) + (seed >> 2));\n}\n\n}\n"
    )
    index = make_index(tmp_path / "idx")
    index.add([docs])
    for mode in ("hybrid", "lexical"):
        [hit] = index.search("c10::hash_combine", k=1, mode=mode)
        assert (hit.path, hit.line) == (str(docs / "hash.h"), 3), mode


@pytest.mark.parametrize(
    ("name", "text", "share"),
    [
        # An SRE's (a helper's trial): a runbook naming `PermitRootLogin` ranked above the
        # sshd_config line setting it.
        ("PermitRootLogin", "#LoginGraceTime 2m\nPermitRootLogin no\n#StrictModes yes", 1.0),
        ("MAX_UPLOAD_SIZE", "services:\n  web:\n    environment:\n      MAX_UPLOAD_SIZE: 10m", 1.0),
        ("max_connections", "max_connections = 100", 1.0),
        ("ExecStart", "[Service]\nExecStart=/usr/bin/app --serve", 1.0),
        # A default shown commented out, a value, or the key inside a line: none.
        ("PermitRootLogin", "#PermitRootLogin prohibit-password", 0),
        ("PermitRootLogin", "Match User backup\n    AllowUsers PermitRootLogin", 0),
        ("PermitRootLogin", "PermitRootLogin", 0),
    ],
)
def test_settings_files_define_their_keys(name, text, share) -> None:
    assert defined_share([name], text, syntax="config") == share


@pytest.mark.parametrize(
    ("path", "syntax"),
    [
        ("/etc/ssh/sshd_config", "config"),
        ("/home/me/.gitconfig", "config"),
        ("app/.env.local", "config"),
        ("deploy/compose.yaml", "config"),
        ("Cargo.toml", "config"),
        ("/etc/systemd/system/app.service", "config"),
        ("web/app.ts", "javascript"),
        ("src/config.py", ""),
        ("docs/config.md", ""),
        ("notes/config", "config"),
    ],
)
def test_the_syntax_of_a_file(path, syntax) -> None:
    assert syntax_of(path) == syntax


def test_a_settings_file_setting_a_key_ranks_above_a_runbook_naming_it(tmp_path) -> None:
    from tests.searchapp.ingest.test_pipeline import make_index

    etc, docs = tmp_path / "etc" / "ssh", tmp_path / "docs"
    etc.mkdir(parents=True)
    docs.mkdir()
    config = (
        "# See sshd_config(5) for more information.\n\n#Port 22\n#LoginGraceTime 2m\n"
        "PermitRootLogin no\n#StrictModes yes\nPubkeyAuthentication yes\n"
        "PasswordAuthentication no\nUsePAM yes\nX11Forwarding no\n"
    )
    (etc / "sshd_config").write_text(config, "utf-8")
    (docs / "hardening.md").write_text(
        "# Server hardening\n\nDisable root login. Set PermitRootLogin to no in sshd_config. "
        "Check that PermitRootLogin is not overridden in sshd_config.d; PermitRootLogin "
        "prohibit-password is the default, and we want PermitRootLogin no everywhere.\n",
        "utf-8",
    )
    index = make_index(tmp_path / "idx")
    index.add([tmp_path / "etc", docs])
    for mode in ("lexical", "hybrid"):
        top = index.search("PermitRootLogin", k=2, mode=mode)[0]
        assert top.path.endswith("sshd_config"), (mode, top.path)
        assert config.split("\n")[top.line - 1] == "PermitRootLogin no", (mode, top.line)


@pytest.mark.parametrize(
    ("name", "text", "share"),
    [
        # A Go and Rust developer's trial: a Go method (its receiver first) was no definition,
        # so a call of it ranked first; `impl Trait for Type` defined the trait, above the
        # trait itself; a macro and a .proto file's declarations were none.
        ("CancelOrder", "func (s *Service) CancelOrder(ctx context.Context) error {", 1.0),
        ("CancelOrder", "\t_, err := h.client.CancelOrder(r.Context(), req)", 0),
        ("LedgerStore", "pub trait LedgerStore: Journal + Send + Sync {", 1.0),
        ("LedgerStore", "impl LedgerStore for MemoryStore {", 0),
        ("MemoryStore", "impl LedgerStore for MemoryStore {", 1.0),
        ("MemoryStore", "impl MemoryStore {", 1.0),
        ("Display", "impl fmt::Display for Money {", 0),
        ("Wrapper", "impl<T: Clone> From<T> for Wrapper<T> {", 1.0),
        ("entry", "#[macro_export]\nmacro_rules! entry {", 1.0),
        ("Money", "impl<'de> Deserialize<'de> for Money {", 1.0),  # a reviewer's
        ("Deserialize", "impl<'de> Deserialize<'de> for Money {", 0),
        ("queue", "the\nmessage queue is full", 0),  # prose, not a .proto file's message
        # An ecologist's R package: its functions are assigned, and a call ranked first.
        ("fit_occupancy", "fit_occupancy <- function(y, site_covs) {", 1.0),
        ("scale_covs", "  scale_covs <<- function(x) x", 1.0),
        ("inv_logit", "inv_logit <- \\(x) 1 / (1 + exp(-x))", 1.0),
        ("fit_occupancy", "fit <- fit_occupancy(y, site_covs)", 0),
    ],
)
def test_go_and_rust_definitions(name, text, share) -> None:
    assert defined_share([name], text) == share


@pytest.mark.parametrize(
    ("query", "name"),
    [
        # As an agent asks (a Go and Rust developer's trial): the trait's passage was not in
        # the first 8 for "where is LedgerStore defined".
        ("where is LedgerStore defined", "LedgerStore"),
        ("where is RetryPolicy defined?", "RetryPolicy"),
        ("Where is `parse_config` implemented", "parse_config"),
        ("definition of CancelOrder", "CancelOrder"),
        ("find the definition of Client.send", "send"),
        ("entry!", "entry"),
        ("where is LedgerStore?", "LedgerStore"),
        # A setting, where it is set (an SRE's trial: a runbook's "set by nginx" came first).
        ("where is client_max_body_size set", "client_max_body_size"),
        ("where is MAX_UPLOAD_SIZE configured?", "MAX_UPLOAD_SIZE"),
        # Asked for a definition in so many words, a name in lower case is one (a Go
        # developer's "where is backoff defined" ranked a comment above `func ... backoff(`);
        # not where it is only asked where the thing is.
        ("where is backoff defined", "backoff"),
        ("definition of retry", "retry"),
        ("where is backoff", None),
        ("where is the timeout configured", None),
        ("Help!", None),  # prose
        ("where is the config", None),
        ("where are users stored", None),
        ("x != y", None),
    ],
)
def test_a_question_for_one_definition_asks_for_that_name(query, name) -> None:
    assert whole_name(query) == name


def test_a_long_run_of_blanks_after_impl_reads_in_linear_time() -> None:
    # A reviewer's: `impl` and 3,000 blanks took 25 s a query (the pattern backtracked).
    from searchapp.ranking.outline import outline

    line = "impl" + " " * 3000 + "{"
    assert defined_share(["Foo"], line) == 0 and outline(line, "    x()") is None
