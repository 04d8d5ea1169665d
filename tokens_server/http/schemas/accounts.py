"""Users, scopes and the caller itself."""

from __future__ import annotations

from pydantic import Field

from tokens_server.domain.models import (
    NewUser,
    UserChanges,
)
from tokens_server.http.field_types import (
    Description,
    ScopeName,
    Timestamp,
    UserName,
    UserScopes,
)
from tokens_server.http.schemas.base import (
    Out,
    Strict,
)


class ScopeCreate(Strict):
    name: ScopeName
    description: Description = ""


class UserCreate(Strict):
    name: UserName
    scopes: UserScopes = []
    admin: bool = False

    def new_user(self) -> NewUser:
        return NewUser(name=self.name, scopes=self.scopes, admin=self.admin)


class UserPatch(Strict):
    scopes: UserScopes = None  # type: ignore[assignment]
    admin: bool = None  # type: ignore[assignment]

    def changes(self) -> UserChanges:
        return UserChanges(**{field: getattr(self, field) for field in self.model_fields_set})


class ScopeOut(Out):
    name: str
    description: str
    created_at: Timestamp


class ScopeListOut(Out):
    items: list[ScopeOut]


class UserOut(Out):
    name: str
    scopes: list[str]
    admin: bool
    created_at: Timestamp
    updated_at: Timestamp


class UserWithKeyOut(UserOut):
    api_key: str = Field(description="Shown this once; only its hash is stored.")


class UserListOut(Out):
    items: list[UserOut]


class MeOut(Out):
    name: str
    admin: bool
    scopes: list[str]
