import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skillpulse_ingest.sources import jsonrows

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner,
                                                                                             max_size=4), max_leaves=12)
bodies = st.dictionaries(st.text(), values | st.lists(st.dictionaries(st.text(), values, max_size=4), max_size=4),
                         max_size=5)


@settings(max_examples=300)
@given(body=bodies, indent=st.sampled_from([None, 0, 2]), ascii_only=st.booleans())
def test_same_result_as_json_loads_and_rows_keep_their_exact_text(body, indent, ascii_only):
    text = json.dumps(body, indent=indent, ensure_ascii=ascii_only)
    parsed = jsonrows.loads(text)
    assert parsed == json.loads(text)
    for value in parsed.values():
        for item in value if isinstance(value, list) else []:
            if isinstance(item, dict):
                assert isinstance(item, jsonrows.Row) and item.text in text and json.loads(item.text) == item


def test_a_row_is_the_provider_text_byte_for_byte():
    text = '{"metadata": {"total_results": 2}, "data": [ {"id": 1, "t": "Caf\\u00e9",  "x": 1.50},{"id":2} ] }'
    rows = jsonrows.loads(text)["data"]
    assert [r.text for r in rows] == ['{"id": 1, "t": "Caf\\u00e9",  "x": 1.50}', '{"id":2}']


@pytest.mark.parametrize("text", ['{"data": [1, 2,]}', '{"data": [{"a": 1} {"b": 2}]}', '{"a" 1}', '{1: 2}',
                                  '{"a": 1,}', '{"a": 1} x', '{"a": [1, 2}', '{"a": ', "", "{", "<html>"])
def test_what_json_refuses_it_refuses(text):
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with pytest.raises(json.JSONDecodeError):
        jsonrows.loads(text)


def test_a_body_that_is_not_an_object_is_json_loads_own():
    assert jsonrows.loads(" [1, {\"a\": 2}] ") == [1, {"a": 2}]
