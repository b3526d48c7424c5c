import pytest

from integrations.icons import initials


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Stripe", "S"),
        ("HubSpot", "HS"),
        ("Google Sheets", "GS"),
        ("GitLab", "GL"),
        ("3D Print", "3P"),
        ("—", "?"),
    ],
)
def test_initials(name, expected):
    assert initials(name) == expected
