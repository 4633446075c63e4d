"""Where code defines a name the query spells as code (``definitions.py``); the searcher's use of
it: ``test_searcher.py``."""

from __future__ import annotations

import pytest

from searchapp.ranking.definitions import code_names, defined_share


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("DefaultFilter", ["DefaultFilter"]),
        ("insert_all", ["insert_all"]),
        ("DEFAULT_TIMEOUT_CONFIG", ["DEFAULT_TIMEOUT_CONFIG"]),
        ("Client.send", ["send"]),
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
