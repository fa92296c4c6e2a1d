"""The field types of config blocks (:mod:`factory.scene.config`,
:mod:`factory.scene.look_specs`): a constant or a distribution whose support is
checked against the field's range, and the frozen, closed base model."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, PlainValidator
from pydantic_core import PydanticCustomError

from factory.errors import ParamError
from factory.scene.distributions import Param, parse_choice, parse_number


def number(ge=None, le=None, gt=None, integer=False):
    """A field type: a constant or a numeric distribution whose support is in range."""

    def validate(value: Any) -> Param:
        if isinstance(value, Param):
            return value
        try:
            return parse_number(value, ge=ge, le=le, gt=gt, integer=integer)
        except ParamError as e:
            raise PydanticCustomError("param", str(e)) from None

    return Annotated[Param, PlainValidator(validate), PlainSerializer(lambda p: p.to_yaml())]


def category(allowed, pattern: re.Pattern | None = None, shown: str = ""):
    """A field type: one of ``allowed`` (or a string ``pattern`` matches, shown as
    ``shown``) or a ``choice`` distribution over them."""

    def validate(value: Any) -> Param:
        if isinstance(value, Param):
            return value
        try:
            return parse_choice(value, allowed, pattern, shown)
        except ParamError as e:
            raise PydanticCustomError("param", str(e)) from None

    return Annotated[Param, PlainValidator(validate), PlainSerializer(lambda p: p.to_yaml())]


def const(x) -> Param:
    return Param("constant", (x,))


Fraction = number(ge=0.0, le=1.0)
Positive = number(gt=0.0)
NonNegative = number(ge=0.0)
Real = number()


class Strict(BaseModel):
    """Base for every config block: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
