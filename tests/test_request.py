"""The one request check (ner_app.request): what each road calls, in-process."""
import pytest

from ner_app.config import Settings
from ner_app.request import INVALID, MALFORMED, TOO_LARGE, Refused, RequestChecks

TYPES = ["PER", "LOC", "ORG"]
CHECKS = RequestChecks(Settings(max_chars=10, max_texts=3, max_request_chars=15, max_dict_entries=2), TYPES)
PARAMS = ("text", "min_score", "types", "offsets")


def refused(fn, *args) -> tuple[int, str | None, str]:
    with pytest.raises(Refused) as exc:
        fn(*args)
    return exc.value.status, exc.value.field, exc.value.message


def test_a_call_as_a_list_or_as_named_arguments_is_the_same_call():
    by_list = CHECKS.call(["张三\ud800", 0.5, ["PER"], "utf16"], PARAMS)
    by_name = CHECKS.call({"text": "张三\ud800", "min_score": 0.5, "types": ["PER"], "offsets": "utf16"}, PARAMS)
    assert by_list == by_name
    assert by_list.texts == ["张三\ufffd"]  # a lone surrogate read as U+FFFD, one code point for one
    assert (by_list.options.min_score, by_list.options.types, by_list.options.offsets) == (0.5, {"PER"}, "utf16")
    assert CHECKS.call(["北京"], PARAMS).options.offsets == "code-points"  # left out: the defaults


@pytest.mark.parametrize(("data", "status", "field", "words"), [
    ([], MALFORMED, "text", "no text sent"), ({"txt": "x"}, MALFORMED, None, '"txt" is not a parameter'),
    (["a", 0, None, "utf16", 1], MALFORMED, None, "at most 4"), ("text", MALFORMED, None, "data must be a list"),
    (["a" * 11], TOO_LARGE, "text", "at most 10 per text"), ([True], INVALID, "text", "not a boolean"),
    (["a", True], INVALID, "min_score", "not true"), (["a", -0.1], INVALID, "min_score", "from 0 to 1"),
    (["a", 0, [1]], INVALID, "types", "list of type names"), (["a", 0, ["per"]], INVALID, "types", '"per"'),
])
def test_each_refusal_has_its_status_field_and_message(data, status, field, words):
    got = refused(CHECKS.call, data, PARAMS)
    assert got[:2] == (status, field) and words in got[2], got


def test_rest_bodies():
    assert CHECKS.body(b'{"texts": ["a", "b"]}').texts == ["a", "b"]
    assert refused(CHECKS.body, b'{"texts": ["a", "b", "c", "d"]}')[:2] == (TOO_LARGE, "texts")
    assert refused(CHECKS.body, b'{"texts": ["0123456789", "012345"]}')[0] == TOO_LARGE  # 16 characters in all
    assert refused(CHECKS.body, b'{"text": "a", "dictionary": ["\\u5f20\\u4e09 PER", "a ORG", "b LOC"]}')[:2] == (
        TOO_LARGE, "dictionary")
    assert refused(CHECKS.body, b"[" * 100_000)[0] == MALFORMED
    assert refused(CHECKS.body, b'{"text": "a", "texts": ["b"]}')[0] == MALFORMED


def test_the_schema_example_is_a_request_the_check_takes():
    checks = RequestChecks(Settings(max_texts=3), TYPES)
    schema = checks.schema()
    call = checks.payload(schema["example"])
    assert call.single and call.texts == [schema["example"]["text"]]
    assert schema["properties"]["texts"]["maxItems"] == 3 and schema["properties"]["text"]["maxLength"] == 100_000
