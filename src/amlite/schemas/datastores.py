"""Datastores (``DatastoreProperties``): where data lives, and the credentials to reach it.

Secrets are accepted in requests (they are write-only on the wire: the service layer
must not echo them back).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from amlite.schemas._base import (
    AlnumStr,
    Int32,
    StrMap,
    UuidStr,
    WireModel,
    discriminated,
    one_of,
)


class AccountKeySecrets(WireModel):
    secrets_type: Annotated[str, one_of("AccountKey")]
    key: str | None = None


class CertificateSecrets(WireModel):
    secrets_type: Annotated[str, one_of("Certificate")]
    certificate: str | None = None


class NoneSecrets(WireModel):
    secrets_type: Annotated[str, one_of("None")]


class SasSecrets(WireModel):
    secrets_type: Annotated[str, one_of("Sas")]
    sas_token: str | None = None


class ServicePrincipalSecrets(WireModel):
    secrets_type: Annotated[str, one_of("ServicePrincipal")]
    client_secret: str | None = None


class SqlAdminSecrets(WireModel):
    secrets_type: Annotated[str, one_of("SqlAdmin")]
    password: str | None = None


class AccountKeyCredentials(WireModel):
    credentials_type: Annotated[str, one_of("AccountKey")]
    secrets: AccountKeySecrets | None = None


class CertificateCredentials(WireModel):
    credentials_type: Annotated[str, one_of("Certificate")]
    authority_url: str | None = None
    client_id: UuidStr
    resource_uri: str | None = None
    secrets: CertificateSecrets | None = None
    tenant_id: UuidStr
    thumbprint: AlnumStr


class NoneCredentials(WireModel):
    credentials_type: Annotated[str, one_of("None")]
    secrets: NoneSecrets | None = None


class SasCredentials(WireModel):
    credentials_type: Annotated[str, one_of("Sas")]
    secrets: SasSecrets | None = None


class ServicePrincipalCredentials(WireModel):
    credentials_type: Annotated[str, one_of("ServicePrincipal")]
    authority_url: str | None = None
    client_id: UuidStr
    resource_uri: str | None = None
    secrets: ServicePrincipalSecrets | None = None
    tenant_id: UuidStr


class SqlAdminCredentials(WireModel):
    credentials_type: Annotated[str, one_of("SqlAdmin")]
    secrets: SqlAdminSecrets | None = None
    user_id: AlnumStr


if TYPE_CHECKING:
    Credentials = (
        AccountKeyCredentials
        | CertificateCredentials
        | NoneCredentials
        | SasCredentials
        | ServicePrincipalCredentials
        | SqlAdminCredentials
    )
else:
    Credentials = discriminated(
        "credentialsType",
        {
            "AccountKey": AccountKeyCredentials,
            "Certificate": CertificateCredentials,
            "None": NoneCredentials,
            "Sas": SasCredentials,
            "ServicePrincipal": ServicePrincipalCredentials,
            "SqlAdmin": SqlAdminCredentials,
        },
    )


class _StorageContents(WireModel):
    account_name: AlnumStr
    container_name: AlnumStr
    credentials: Credentials
    endpoint: AlnumStr
    protocol: AlnumStr


class AzureBlobContents(_StorageContents):
    contents_type: Annotated[str, one_of("AzureBlob")]


class AzureDataLakeGen2Contents(_StorageContents):
    contents_type: Annotated[str, one_of("AzureDataLakeGen2")]


class AzureFileContents(_StorageContents):
    contents_type: Annotated[str, one_of("AzureFile")]


class AzureDataLakeGen1Contents(WireModel):
    contents_type: Annotated[str, one_of("AzureDataLakeGen1")]
    credentials: Credentials
    store_name: AlnumStr


class _SqlContents(WireModel):
    credentials: Credentials
    database_name: AlnumStr
    endpoint: AlnumStr
    port_number: Int32
    server_name: AlnumStr


class AzurePostgreSqlContents(_SqlContents):
    contents_type: Annotated[str, one_of("AzurePostgreSql")]
    enable_ssl: bool | None = None


class AzureSqlDatabaseContents(_SqlContents):
    contents_type: Annotated[str, one_of("AzureSqlDatabase")]


class GlusterFsContents(WireModel):
    contents_type: Annotated[str, one_of("GlusterFs")]
    server_address: AlnumStr
    volume_name: AlnumStr


if TYPE_CHECKING:
    Contents = (
        AzureBlobContents
        | AzureDataLakeGen1Contents
        | AzureDataLakeGen2Contents
        | AzureFileContents
        | AzurePostgreSqlContents
        | AzureSqlDatabaseContents
        | GlusterFsContents
    )
else:
    Contents = discriminated(
        "contentsType",
        {
            "AzureBlob": AzureBlobContents,
            "AzureDataLakeGen1": AzureDataLakeGen1Contents,
            "AzureDataLakeGen2": AzureDataLakeGen2Contents,
            "AzureFile": AzureFileContents,
            "AzurePostgreSql": AzurePostgreSqlContents,
            "AzureSqlDatabase": AzureSqlDatabaseContents,
            "GlusterFs": GlusterFsContents,
        },
    )


class LinkedInfo(WireModel):
    linked_id: str | None = None
    linked_resource_name: str | None = None
    origin: Annotated[str, one_of("Synapse")] | None = None


class DatastoreProperties(WireModel):
    """A datastore; ``hasBeenValidated`` is read-only."""

    read_only = frozenset({"hasBeenValidated"})

    contents: Contents
    description: str | None = None
    is_default: bool | None = None
    linked_info: LinkedInfo | None = None
    properties: StrMap | None = None
    tags: StrMap | None = None
