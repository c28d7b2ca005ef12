"""The named mutations stay applicable: a refactor that moves the code they break must move them too."""

from __future__ import annotations

import pytest

from tools.mutations import ROOT, Mutation, load

MUTATIONS = load()


def test_there_are_named_mutations() -> None:
    assert len(MUTATIONS) >= 100
    assert len({m.name for m in MUTATIONS}) == len(MUTATIONS), "two mutations share a name"


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_each_mutation_applies_once_and_names_a_test_that_exists(mutation: Mutation) -> None:
    text = (ROOT / mutation.file).read_text()
    assert text.count(mutation.find) == 1, f"{mutation.find!r} must occur once in {mutation.file}"
    assert mutation.replace != mutation.find
    test_file, _, name = mutation.test.partition("::")
    source = (ROOT / test_file).read_text()
    assert f"def {name.split('[')[0]}(" in source, f"{mutation.test} does not exist"
