"""Every handler on normal and hostile input: empty, None, unicode, very long, wrong types."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.handlers import REGISTRY, SUBMIT, VALIDATION, VALUE, run_submit, run_validation, run_value

LONG = "a" * 1_000_000
HOSTILE = ["", None, "   ", "\u0000\u202e", "😀" * 50, LONG, 12, 3.5, True, [], ["x"], {"a": 1}]


def value(name, raw, **params):
    return run_value({"name": name, "params": params} if params else name, raw)


def check(name, raw, **params):
    return run_validation({"name": name, "params": params} if params else name, raw)


def submit(name, field_key, raw, **params):
    return run_submit({"name": name, "params": params} if params else name, field_key, raw)


def test_registry_has_the_named_handlers_with_kind_description_and_parameters():
    for name in ("capitalizeFirstName", "trim", "lowercase", "toE164Phone", "toIsoDate"):
        assert REGISTRY[name].kind == VALUE
    for name in ("validateEmailFormat", "validateNameLength", "validateUrl"):
        assert REGISTRY[name].kind == VALIDATION
    for name in ("splitFullName", "wrapInArray"):
        assert REGISTRY[name].kind == SUBMIT
    described = REGISTRY["validateNameLength"].describe()
    assert described["description"]
    assert described["parameters"] == [
        {
            "name": "min",
            "type": "integer",
            "required": False,
            "default": 1,
            "description": "Fewest characters.",
        },
        {
            "name": "max",
            "type": "integer",
            "required": False,
            "default": 100,
            "description": "Most characters.",
        },
    ]


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize(
    "raw", HOSTILE, ids=lambda r: type(r).__name__ + str(len(r) if hasattr(r, "__len__") else "")
)
def test_no_handler_raises_on_hostile_input(name, raw):
    handler = REGISTRY[name]
    params = {"renameTo": {"key": "x"}, "nestUnder": {"path": "properties"}}.get(name, {})
    reference = {"name": name, "params": params} if params else name
    if handler.kind == VALUE:
        result, problem = run_value(reference, raw)
        assert problem is None or isinstance(problem, str)
    elif handler.kind == VALIDATION:
        problem = run_validation(reference, raw)
        assert problem is None or isinstance(problem, str)
    else:
        part, problem = run_submit(reference, "field", raw)
        assert isinstance(part, dict)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=5,
    )
)
@settings(max_examples=150, deadline=None)
def test_value_and_validation_handlers_never_raise_on_any_json(raw):
    for handler in REGISTRY.values():
        if handler.kind == VALUE:
            run_value(handler.name, raw)
        elif handler.kind == VALIDATION:
            run_validation(handler.name, raw)


# --- value handlers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ada  ", "Ada"),
        ("\u00a0Zoë\t\n", "Zoë"),
        ("", ""),
        (None, None),
        (42, 42),
        (LONG + "  ", LONG),
    ],
)
def test_trim(raw, expected):
    assert value("trim", raw) == (expected, None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ada@Example.COM", "ada@example.com"),
        ("ÉLODIE", "élodie"),
        ("", ""),
        (None, None),
        ([1], [1]),
    ],
)
def test_lowercase(raw, expected):
    assert value("lowercase", raw) == (expected, None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("john", "John"),
        ("  JOHN ", "John"),
        ("mary-jane", "Mary-Jane"),
        ("mary   ann", "Mary Ann"),
        ("élodie", "Élodie"),
        ("DeShawn", "DeShawn"),
        ("李", "李"),
        ("", ""),
        (None, None),
        (7, 7),
    ],
)
def test_capitalize_first_name(raw, expected):
    assert value("capitalizeFirstName", raw) == (expected, None)


def test_capitalize_first_name_on_very_long_input():
    result, problem = value("capitalizeFirstName", LONG)
    assert problem is None and result == "A" + "a" * (len(LONG) - 1)


@pytest.mark.parametrize(
    ("raw", "params", "expected"),
    [
        ("(415) 555-2671", {}, "+14155552671"),
        ("1 415 555 2671", {}, "+14155552671"),
        ("+44 20 7946 0958", {}, "+442079460958"),
        ("0044 20 7946 0958", {}, "+442079460958"),
        ("020 7946 0958", {"defaultCountryCode": "44"}, "+442079460958"),
        (4155552671, {}, "+14155552671"),
        ("", {}, ""),
    ],
)
def test_to_e164_phone(raw, params, expected):
    assert value("toE164Phone", raw, **params) == (expected, None)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("call me", "must be a phone number (digits, spaces and + - . ( ) only)"),
        ("٤١٥٥٥٥٢٦٧١", "must be a phone number (digits, spaces and + - . ( ) only)"),
        ("+1 555", "must have 8 to 15 digits including the country code"),
        ("1" * 5000, "must be a phone number (digits, spaces and + - . ( ) only)"),
        (None, "must be a phone number"),
        (True, "must be a phone number"),
        (["+14155552671"], "must be a phone number"),
    ],
)
def test_to_e164_phone_refuses_what_is_not_a_phone_number(raw, problem):
    assert value("toE164Phone", raw)[1] == problem


@pytest.mark.parametrize(
    ("raw", "params", "expected"),
    [
        ("2025-11-23", {}, "2025-11-23"),
        ("2025/11/23", {}, "2025-11-23"),
        ("23.11.2025", {}, "2025-11-23"),
        ("23 Nov 2025", {}, "2025-11-23"),
        ("November 23, 2025", {}, "2025-11-23"),
        ("2025-11-23T15:45:00.000Z", {}, "2025-11-23"),
        ("03/04/2025", {}, "2025-03-04"),
        ("03/04/2025", {"dayFirst": True}, "2025-04-03"),
        ("", {}, ""),
    ],
)
def test_to_iso_date(raw, params, expected):
    assert value("toIsoDate", raw, **params) == (expected, None)


@pytest.mark.parametrize("raw", ["2025-02-30", "yesterday", "二〇二五年", LONG, None, 20251123, {"y": 2025}])
def test_to_iso_date_refuses_what_is_not_a_date(raw):
    assert value("toIsoDate", raw)[1] == "must be a date such as 2025-11-23"


# --- validation handlers


@pytest.mark.parametrize("raw", ["ada@example.com", "ada.lovelace+crm@mail.example.co.uk", "zoe@exämple.com"])
def test_validate_email_format_accepts(raw):
    assert check("validateEmailFormat", raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "a b@example.com",
        "a" * 300 + "@example.com",
        LONG,
        None,
        5,
        ["ada@example.com"],
    ],
)
def test_validate_email_format_refuses(raw):
    assert check("validateEmailFormat", raw) == "must be a valid email address"


def test_validate_name_length():
    assert check("validateNameLength", "Ada") is None
    assert check("validateNameLength", "Žofia 李") is None
    assert check("validateNameLength", "") == "must be between 1 and 100 characters"
    assert check("validateNameLength", "   ") == "must be between 1 and 100 characters"
    assert check("validateNameLength", LONG) == "must be between 1 and 100 characters"
    assert check("validateNameLength", "Al", min=3, max=5) == "must be between 3 and 5 characters"
    assert check("validateNameLength", "Ada\u0000") == "must not contain control characters"
    assert check("validateNameLength", None) == "must be text"
    assert check("validateNameLength", 12) == "must be text"


@pytest.mark.parametrize(
    "raw", ["https://example.com", "http://example.com/a?b=c", "https://exämple.com/путь"]
)
def test_validate_url_accepts(raw):
    assert check("validateUrl", raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "example.com",
        "ftp://example.com",
        "javascript:alert(1)",
        "https://" + "a" * 3000 + ".com",
        None,
        1,
        {"url": "https://x.com"},
    ],
)
def test_validate_url_refuses(raw):
    assert check("validateUrl", raw) == "must be a valid URL such as https://example.com"


def test_validate_url_can_require_https():
    assert check("validateUrl", "http://example.com", requireHttps=True) == "must be an https URL"
    assert check("validateUrl", "https://example.com", requireHttps=True) is None


def test_other_validation_handlers():
    assert check("validateE164Phone", "+14155552671") is None
    assert (
        check("validateE164Phone", "4155552671")
        == "must be a phone number in international form, such as +14155552671"
    )
    assert check("validateIsoDate", "2025-11-23") is None
    assert check("validateIsoDate", "2025-13-01") == "must be a date written YYYY-MM-DD, such as 2025-11-23"
    assert check("validateMaxLength", "abc", max=2) == "must be 2 characters or fewer"
    assert check("validateMaxLength", "ab", max=2) is None


# --- submit handlers


def test_split_full_name():
    assert submit("splitFullName", "name", "Ada King Lovelace") == (
        {"first_name": "Ada", "last_name": "King Lovelace"},
        None,
    )
    assert submit("splitFullName", "name", "Madonna") == ({"last_name": "Madonna"}, None)
    assert submit("splitFullName", "name", "  ") == ({}, None)
    assert submit("splitFullName", "name", "Zoë Żak", firstKey="FirstName", lastKey="LastName") == (
        {"FirstName": "Zoë", "LastName": "Żak"},
        None,
    )
    assert submit("splitFullName", "name", 5) == ({}, "must be a name")


def test_wrap_in_array_rename_and_nest():
    assert submit("wrapInArray", "labels", "bug") == ({"labels": ["bug"]}, None)
    assert submit("wrapInArray", "labels", ["bug"]) == ({"labels": ["bug"]}, None)
    assert submit("wrapInArray", "labels", None) == ({"labels": [None]}, None)
    assert submit("renameTo", "email", "a@b.co", key="Email") == ({"Email": "a@b.co"}, None)
    assert submit("nestUnder", "email", "a@b.co", path="properties") == (
        {"properties": {"email": "a@b.co"}},
        None,
    )
    assert submit("nestUnder", "x", 1, path="a.b") == ({"a": {"b": {"x": 1}}}, None)


def test_misconfigured_or_unknown_handler_is_a_message_not_an_exception():
    assert check("validateNameLength", "Ada", min="many") == (
        "cannot be processed: handler 'validateNameLength' is misconfigured (params.min must be an integer)"
    )
    assert run_value("noSuchHandler", "x") == (
        "x",
        "cannot be processed: handler 'noSuchHandler' does not exist",
    )


def test_handler_params_are_coerced_from_form_text():
    assert check("validateNameLength", "Al", min="3", max="5") == "must be between 3 and 5 characters"
    assert value("toIsoDate", "03/04/2025", dayFirst="true") == ("2025-04-03", None)
