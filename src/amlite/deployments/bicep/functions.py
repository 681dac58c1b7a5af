"""The ARM template functions a Bicep call may name (Bicep calls map 1:1 to them).

Bicep-only functions (``loadTextContent``, ``any``, ...) are handled by the compiler itself;
a name in neither list is an error at the call's position, as ``bicep build`` reports it.
"""

from __future__ import annotations

ARM_FUNCTIONS: frozenset[str] = frozenset(
    name.lower()
    for name in """
    array concat contains createArray createObject empty first flatten indexOf intersection
    items join json last lastIndexOf length max min objectKeys range shallowMerge skip take
    tryGet union coalesce equals greater greaterOrEquals less lessOrEquals and bool false if
    not or true add div int float mod mul sub base64 base64ToJson base64ToString dataUri
    dataUriToString endsWith format guid padLeft replace split startsWith string substring
    toLower toUpper trim uniqueString uri uriComponent uriComponentToString utcNow
    dateTimeAdd dateTimeFromEpoch dateTimeToEpoch newGuid deployment environment
    managementGroup resourceGroup subscription tenant extensionResourceId
    managementGroupResourceId pickZones providers reference references resourceId
    subscriptionResourceId tenantResourceId listKeys listSecrets listAccountSas
    listServiceSas list null
    """.split()  # noqa: SIM905
)

# Bicep functions with no ARM counterpart of the same name: their compile-time meaning is in
# the compiler (files are read and inlined; `any` is the identity).
BICEP_ONLY: frozenset[str] = frozenset(
    {"loadtextcontent", "loadjsoncontent", "loadfileasbase64", "any"}
)

# Functions that take lambdas in Bicep: amlite's compiler has no lambdas.
LAMBDA_FUNCTIONS: frozenset[str] = frozenset(
    {"filter", "map", "reduce", "sort", "toobject", "groupby", "mapvalues"}
)
