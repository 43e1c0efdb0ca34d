"""The `chain` fixture: a fresh emulated ledger (algorand-python-testing) per test."""

from collections.abc import Iterator

import pytest
from algopy_testing import algopy_testing_context

from chain import Chain


@pytest.fixture
def chain() -> Iterator[Chain]:
    with algopy_testing_context() as ctx:
        yield Chain(ctx)
