"""fastjson reads and writes exactly what json does (it drives the same C codec), for the options the hot path uses."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mem0_hooks import fastjson

documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
OPTIONS = [{}, {"ensure_ascii": False}, {"ensure_ascii": False, "separators": (",", ":")}, {"sort_keys": True}]


def same(a: object, b: object) -> bool:
    return (
        a == b
        or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
        or json.dumps(a) == json.dumps(b)
    )


@settings(max_examples=300)
@given(documents)
def test_dumps_and_loads_match_json(doc: object) -> None:
    for options in OPTIONS:
        text = json.dumps(doc, **options)
        assert fastjson.dumps(doc, **options) == text
        assert same(fastjson.loads(text), json.loads(text))
        assert same(fastjson.loads((" \n" + text + "\t").encode()), json.loads(text))


@pytest.mark.parametrize("bad", ["", " ", "{", "[1,]", "1 2", '{"a":1}x', "nul", "\ufeff{}"])
def test_invalid_documents_raise_value_error_like_json(bad: str) -> None:
    with pytest.raises(ValueError):
        json.loads(bad)
    with pytest.raises(ValueError):
        fastjson.loads(bad)


@pytest.mark.parametrize("bad", [{1j: 1}, {(1,): 2}, {1, 2}, object()])
def test_unserialisable_values_raise_type_error_like_json(bad: object) -> None:
    with pytest.raises(TypeError) as theirs:
        json.dumps(bad)
    with pytest.raises(TypeError) as ours:
        fastjson.dumps(bad)
    assert str(ours.value) == str(theirs.value)


def test_importing_it_does_not_import_re(tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    code = "import sys; from mem0_hooks import fastjson; fastjson.loads(fastjson.dumps({'a': [1]})); print('re' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(root)},
        check=True,
    ).stdout
    assert out.strip() == "False"
