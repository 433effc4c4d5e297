"""The CLI's fixed-input op table (shipped, no hypothesis) and the test suite's op table
(hypothesis strategies and NumPy references) must cover the same differentiable ops."""

import re

from op_table import CASES

from autodiff.cli._optable import ROWS

# Test-table rows that are variants of one op (pow_int, getitem_mask, rsub_array ...) -> the op.
_VARIANT = re.compile(
    r"_(int|frac|neg|const|default|lo|basic|int_arrays|int_axis|mask|array|float\d+"
    r"|zero|replicate|mirror|symmetric|circular)$"
)
_ALIASES = {"radd": "add", "rsub": "sub", "rmul": "mul", "rdiv": "div", "rpow": "pow", "rmatmul": "matmul",
            "T": "transpose", "flatten": "reshape"}


def _test_ops():
    ops = set()
    for name in CASES:
        base = _VARIANT.sub("", _VARIANT.sub("", name))
        ops.add(_ALIASES.get(base, base))
    return ops


def _cli_ops():
    return {re.split(r"[ (]", row[0])[0] for row in ROWS}


def test_cli_table_and_test_table_cover_the_same_ops():
    cli, tests = _cli_ops(), _test_ops()
    # dropout and batch_norm are random or stateful: their own test files check them
    assert cli - tests == {"dropout", "batch_norm"}, sorted(cli - tests)
    assert tests - cli <= {"astype"}, f"checked by the tests, not by `autodiff gradcheck`: {sorted(tests - cli)}"
