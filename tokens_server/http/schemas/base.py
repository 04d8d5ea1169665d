"""What every request and answer shares: strict parsing, dumping, problems and health."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldErrorOut(Out):
    field: str
    message: str


class ProblemOut(Out):
    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldErrorOut] = []


class HealthOut(Out):
    # "saturated": serving TOKENS_MAX_IN_FLIGHT requests; more answer 503 until some end.
    status: Literal["ok", "unavailable", "saturated"]
    database: Literal["ok", "unavailable"]
    # Where lists are answered from: memory kept exact by the change stream, or the database
    # (as exact, slower) while memory loads, holds too many tokens or cannot be trusted.
    lists: Literal["memory", "database"]
    # Why lists read the database; empty when they do not.
    lists_detail: str


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=False)


def dump_json(model: BaseModel) -> bytes:
    """The model as JSON, encoded in one pass: no dict in between, no ``json.dumps``."""
    return model.__pydantic_serializer__.to_json(model)
