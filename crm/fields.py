"""Model fields: secrets encrypted at rest with Fernet (MultiFernet for key rotation)."""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        # Embedded default only: a key derived from SECRET_KEY. Production sets
        # FIELD_ENCRYPTION_KEYS (a deploy check fails without it).
        derived = base64.urlsafe_b64encode(hashlib.sha256(f"fairway-field-key:{secret_key}".encode()).digest())
        keys = (derived.decode(),)
    return MultiFernet([Fernet(key) for key in keys])


def field_cipher() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS), settings.SECRET_KEY)


class EncryptedTextField(models.TextField):
    """Stores Fernet tokens; Python sees plain text. Values can't be filtered on, by design."""

    def get_prep_value(self, value):
        if value in (None, ""):
            return value
        return field_cipher().encrypt(str(value).encode()).decode()

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        try:
            return field_cipher().decrypt(value.encode()).decode()
        except InvalidToken as error:
            raise ValueError("An encrypted value could not be decrypted: is FIELD_ENCRYPTION_KEYS complete?") from error
