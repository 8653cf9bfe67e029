"""Decrypt and encrypt Pulumi secrets exactly like the Pulumi CLI (format doc section 4).

Importing this package is cheap: ``cryptography`` and the KMS SDKs are imported only when a key is
used. Typical use::

    from pulumi_diy.secrets import manager_from_secrets_providers, reveal_deployment

    manager = manager_from_secrets_providers(deployment.get("secrets_providers"), passphrase=lambda: "...")
    revealed = reveal_deployment(deployment, manager)
"""

from __future__ import annotations

from pulumi_diy.secrets.crypter import AesGcmCrypter
from pulumi_diy.secrets.kms import KeyWrapper, key_wrapper_for_url
from pulumi_diy.secrets.managers import (
    B64Manager,
    CloudManager,
    LazyManager,
    NoSecretsManager,
    SecretsManager,
    manager_from_secrets_providers,
)
from pulumi_diy.secrets.passphrase import PassphraseManager, derive_key, read_passphrase
from pulumi_diy.secrets.values import (
    SECRET_SIG,
    SIG_KEY,
    SecretLocation,
    decrypt_config_value,
    decrypt_secret_value,
    encrypt_config_value,
    encrypt_secret_value,
    format_property_path,
    go_json_marshal,
    is_secret,
    is_secure_config,
    iter_config_secrets,
    iter_secrets,
    mask_secrets,
    reencrypt_deployment,
    reveal_deployment,
)

__all__ = [
    "SECRET_SIG",
    "SIG_KEY",
    "AesGcmCrypter",
    "B64Manager",
    "CloudManager",
    "KeyWrapper",
    "LazyManager",
    "NoSecretsManager",
    "PassphraseManager",
    "SecretLocation",
    "SecretsManager",
    "decrypt_config_value",
    "decrypt_secret_value",
    "derive_key",
    "encrypt_config_value",
    "encrypt_secret_value",
    "format_property_path",
    "go_json_marshal",
    "is_secret",
    "is_secure_config",
    "iter_config_secrets",
    "iter_secrets",
    "key_wrapper_for_url",
    "manager_from_secrets_providers",
    "mask_secrets",
    "read_passphrase",
    "reencrypt_deployment",
    "reveal_deployment",
]
