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
    assert defined_share(["send", "stream"], "async def send(self, request):") == 0.5
    assert defined_share(["run"], "export function run(argv) {") == 1.0
    assert defined_share([], "def x(): pass") == 0.0
