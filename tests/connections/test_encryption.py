import base64

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from connections import encryption
from connections.apps import check_encryption_keys
from connections.encryption import CredentialsUnreadable

PLAINTEXT = b'{"clientSecret":"CANARY-enc-0001"}'
NEW_KEY = "k3:" + base64.urlsafe_b64encode(b"\x07" * 32).decode()


def test_round_trip_with_the_newest_key_named_in_the_token(settings):
    token = encryption.encrypt(PLAINTEXT, bound_to="conn_a")

    assert token.startswith("v1.test2.")
    assert encryption.token_key_id(token) == "test2"
    assert b"CANARY" not in token.encode() and b"CANARY" not in base64.urlsafe_b64decode(token.split(".")[2])
    assert encryption.decrypt(token, bound_to="conn_a") == PLAINTEXT


def test_each_value_gets_a_fresh_nonce():
    assert encryption.encrypt(PLAINTEXT, bound_to="conn_a") != encryption.encrypt(
        PLAINTEXT, bound_to="conn_a"
    )


def test_a_token_bound_to_another_row_fails_to_decrypt():
    token = encryption.encrypt(PLAINTEXT, bound_to="conn_a")

    with pytest.raises(CredentialsUnreadable) as caught:
        encryption.decrypt(token, bound_to="conn_b")

    assert "another record" in caught.value.error


def test_an_altered_token_fails_to_decrypt():
    token = encryption.encrypt(PLAINTEXT, bound_to="conn_a")
    body = bytearray(base64.urlsafe_b64decode(token.split(".")[2]))
    body[-1] ^= 1
    altered = "v1.test2." + base64.urlsafe_b64encode(bytes(body)).decode()

    with pytest.raises(CredentialsUnreadable):
        encryption.decrypt(altered, bound_to="conn_a")


def test_relabelling_the_key_id_fails_even_if_that_key_exists():
    token = encryption.encrypt(PLAINTEXT, bound_to="conn_a")

    with pytest.raises(CredentialsUnreadable):
        encryption.decrypt(token.replace("v1.test2.", "v1.test1.", 1), bound_to="conn_a")


def test_an_old_key_still_decrypts_and_a_removed_key_fails_loudly(settings):
    old_only = [settings.ENCRYPTION_KEYS[1]]
    with override_settings(ENCRYPTION_KEYS=old_only):
        token = encryption.encrypt(PLAINTEXT, bound_to="conn_a")
    assert token.startswith("v1.test1.")
    assert encryption.decrypt(token, bound_to="conn_a") == PLAINTEXT

    with (
        override_settings(ENCRYPTION_KEYS=[settings.ENCRYPTION_KEYS[0]]),
        pytest.raises(CredentialsUnreadable) as caught,
    ):
        encryption.decrypt(token, bound_to="conn_a")
    assert caught.value.message == "Failed to decrypt credentials"
    assert caught.value.error == "Encrypted with key 'test1', which is not in ENCRYPTION_KEYS"


def test_reencrypt_moves_a_value_to_the_newest_key_for_the_same_row_only(settings):
    newest, older = settings.ENCRYPTION_KEYS
    with override_settings(ENCRYPTION_KEYS=[older]):
        old = encryption.encrypt(PLAINTEXT, bound_to="conn_a")

    token = encryption.reencrypt(old, bound_to="conn_a")

    assert encryption.token_key_id(token) == "test2" and token != old
    with override_settings(ENCRYPTION_KEYS=[newest]):
        assert encryption.decrypt(token, bound_to="conn_a") == PLAINTEXT
        with pytest.raises(CredentialsUnreadable):
            encryption.decrypt(token, bound_to="conn_b")
    with pytest.raises(CredentialsUnreadable):
        encryption.reencrypt(old, bound_to="conn_b")


def test_a_wrong_key_under_the_same_id_fails_without_leaking(settings):
    token = encryption.encrypt(PLAINTEXT, bound_to="conn_a")
    with (
        override_settings(ENCRYPTION_KEYS=["test2:" + base64.b64encode(b"\x01" * 32).decode()]),
        pytest.raises(CredentialsUnreadable) as caught,
    ):
        encryption.decrypt(token, bound_to="conn_a")
    text = f"{caught.value} {caught.value.error!r} {caught.value.args!r}"
    assert "CANARY" not in text
    assert settings.ENCRYPTION_KEYS[0].split(":")[1] not in text


@pytest.mark.parametrize(
    "value", ["plaintext", "", "v1.test2.", "v2.test2.abc", "v1.bad id.abc", "v1.test2.@@@"]
)
def test_something_that_is_not_a_token_is_refused(value):
    with pytest.raises(CredentialsUnreadable):
        encryption.decrypt(value, bound_to="conn_a")


@pytest.mark.parametrize(
    ("entries", "complaint"),
    [
        (["k1:" + base64.b64encode(b"x" * 16).decode()], "key 'k1' is 16 bytes; AES-256 needs exactly 32"),
        (["k1:not*base64!"], "key 'k1' is not valid base64"),
        ([NEW_KEY, NEW_KEY], "key id 'k3' appears twice"),
        (["k1"], "no ':<key>'"),
        (["bad.id:" + base64.b64encode(b"x" * 32).decode()], "'bad.id' is not a valid key id"),
        ([], "ENCRYPTION_KEYS is empty"),
    ],
)
def test_malformed_keys_are_refused_with_a_helpful_message(entries, complaint):
    with pytest.raises(ImproperlyConfigured) as caught:
        encryption.parse_keys(entries)

    assert complaint in str(caught.value)
    assert "newest first" in str(caught.value)


def test_both_base64_alphabets_and_missing_padding_are_accepted():
    key = b"\xfb\xff" * 16
    standard = base64.b64encode(key).decode()
    urlsafe = base64.urlsafe_b64encode(key).decode().rstrip("=")
    ring = encryption.parse_keys([f"a:{standard}", f"b:{urlsafe}"])

    assert ring.keys == {"a": key, "b": key}
    assert ring.current_id == "a"


def test_startup_check_reports_bad_keys():
    with override_settings(ENCRYPTION_KEYS=["k1:short"]):
        errors = check_encryption_keys(None)

    assert [e.id for e in errors] == ["connections.E001"]
    assert check_encryption_keys(None) == []
