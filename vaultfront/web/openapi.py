"""The OpenAPI 3.1 document served at `GET /api/openapi.json`.

Written by hand next to the routes; `tests/test_openapi.py` fails when a route of the app
is missing here, so the two cannot drift.
"""

from __future__ import annotations

from typing import Any

from vaultfront import __version__, layout

ENVS = layout.ENVIRONMENTS


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


# On every route: headers over 16 KiB in all, and a database that cannot be reached.
EDGE_ERRORS = {
    "431": _error("`headers_too_large`: the request's headers are over 16 KiB in all"),
    "503": _error("`database_unavailable`: the metadata database cannot be reached"),
}
ERRORS = {
    "401": _error("`unauthenticated`: no or bad credentials"),
    "403": _error("`forbidden`: not allowed (`Only {owner} can modify this secret`)"),
    "404": _error("`not_found`: no such organization or secret, or not a member"),
    **EDGE_ERRORS,
}
WRITE_ERRORS = {
    **ERRORS,
    "409": _error("`name_taken`: a secret of that name exists in the organization"),
    "413": _error("`too_large`: the body is over 1 MiB"),
    "422": _error("`invalid`: bad input; `field` names it"),
    "503": _error(
        "`vault_unavailable`: Vault unreachable or refused, or `database_unavailable`: the "
        "metadata database cannot be reached; either way nothing was written"
    ),
}
ORG = {"name": "org", "in": "path", "required": True, "schema": {"type": "string"}}
SECRET_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": 'The version the change is based on, as `"3"`; stale gives 412',
    "schema": {"type": "string"},
}
VERSION_CONFLICT = {"412": _error("`version_conflict`: If-Match is stale; nothing was written")}


def _schemas() -> dict[str, Any]:
    flags = {env: {"type": "boolean"} for env in ENVS}
    value_state = {
        "type": "object",
        "properties": {"set": {"type": "boolean"}, "mask": {"type": ["string", "null"]}},
        "required": ["set", "mask"],
    }
    name_schema = {"type": "string", "pattern": "^[A-Z][A-Z0-9_]{0,127}$"}
    row: dict[str, Any] = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "name": name_schema,
            "description": {"type": "string", "maxLength": 1000},
            "owner": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "email": {"type": "string"},
                    "name": {"type": ["string", "null"]},
                },
            },
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "environments": {"type": "object", "properties": flags},
        },
        "required": ["id", "name", "description", "owner", "created_at", "updated_at"],
    }
    value = {"type": "string", "minLength": 1, "description": "at most 64 KiB of UTF-8"}
    return {
        "Error": {
            "type": "object",
            "properties": {
                "error": {
                    "type": "object",
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "field": {"type": ["string", "null"]},
                    },
                    "required": ["code", "message"],
                }
            },
        },
        "SecretRow": row,
        "SecretDetail": {
            "allOf": [
                {"$ref": "#/components/schemas/SecretRow"},
                {
                    "type": "object",
                    "properties": {
                        "version": {"type": "integer"},
                        "can_edit": {"type": "boolean"},
                        "values": {
                            "type": "object",
                            "properties": {env: value_state for env in ENVS},
                        },
                    },
                },
            ]
        },
        "SecretList": {
            "type": "object",
            "properties": {
                "secrets": {"type": "array", "items": {"$ref": "#/components/schemas/SecretRow"}}
            },
        },
        "CreateSecret": {
            "type": "object",
            "properties": {
                "name": name_schema,
                "description": {"type": "string", "maxLength": 1000},
                "values": {"type": "object", "properties": {env: value for env in ENVS}},
            },
            "required": ["name"],
            "additionalProperties": False,
        },
        "UpdateSecret": {
            "type": "object",
            "description": "Changes only what it names; a value of null clears it",
            "properties": {
                "name": name_schema,
                "description": {"type": "string", "maxLength": 1000},
                "values": {
                    "type": "object",
                    "properties": {env: {"type": ["string", "null"]} for env in ENVS},
                },
                "owner_id": {
                    "type": "integer",
                    "description": "transfer of ownership: admins only; the new owner must "
                    "be a member or admin of the organization",
                },
            },
            "additionalProperties": False,
        },
        "Me": {"type": "object"},
        "MemberList": {
            "type": "object",
            "properties": {
                "members": {
                    "type": "array",
                    "description": "by name (email when there is none), then email",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "email": {"type": "string"},
                            "name": {"type": ["string", "null"]},
                            "role": {"type": "string", "enum": ["viewer", "member", "admin"]},
                            "can_own": {
                                "type": "boolean",
                                "description": "member or admin (or a superadmin who is a "
                                "member): a valid `owner_id` for a transfer",
                            },
                        },
                        "required": ["id", "email", "name", "role", "can_own"],
                    },
                }
            },
        },
    }


def openapi_document() -> dict[str, Any]:
    detail = _json("SecretDetail", "the secret, with masks; `ETag` carries its version")
    return {
        "openapi": "3.1.0",
        "info": {"title": "vaultfront", "version": __version__},
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "vaultfront_session"},
            },
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            "/api/me": {
                "get": {
                    "summary": "The caller, their organizations and roles",
                    "responses": {
                        "200": _json("Me", "the caller"),
                        "401": ERRORS["401"],
                        **EDGE_ERRORS,
                    },
                }
            },
            "/api/orgs/{org}/secrets": {
                "parameters": [ORG],
                "get": {
                    "summary": "The grid rows",
                    "responses": {"200": _json("SecretList", "the rows"), **ERRORS},
                },
                "post": {
                    "summary": "Create a secret; the caller becomes its owner",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/CreateSecret"}
                            }
                        },
                    },
                    "responses": {"201": detail, **WRITE_ERRORS},
                },
            },
            "/api/orgs/{org}/secrets/{id}": {
                "parameters": [ORG, SECRET_ID],
                "get": {"summary": "A secret with masks", "responses": {"200": detail, **ERRORS}},
                "patch": {
                    "summary": "Change only what the body names",
                    "parameters": [IF_MATCH],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/UpdateSecret"}
                            }
                        },
                    },
                    "responses": {"200": detail, **WRITE_ERRORS, **VERSION_CONFLICT},
                },
                "delete": {
                    "summary": "Delete the metadata and every environment's data in Vault",
                    "parameters": [IF_MATCH],
                    "responses": {
                        "204": {"description": "deleted"},
                        **ERRORS,
                        **VERSION_CONFLICT,
                        "503": WRITE_ERRORS["503"],
                    },
                },
            },
            "/api/orgs/{org}/members": {
                "parameters": [ORG],
                "get": {
                    "summary": "The organization's members, their roles, and who may own",
                    "responses": {"200": _json("MemberList", "the members"), **ERRORS},
                },
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1"}},
                }
            },
        },
    }
