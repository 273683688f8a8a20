"""A flow's parameters as a pydantic model: the deployment's JSON schema, and typed values.

The runner publishes the schema (the server checks every run's parameters against it, and the
UI builds its form from it); the process executing a run turns the JSON it was given back into
the types the flow's signature declares.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

from inloop.context import FlowLike

__all__ = ["coerce_parameters", "parameter_model", "parameter_schema"]

_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def parameter_model(flow: FlowLike) -> type[BaseModel]:
    try:
        hints = typing.get_type_hints(flow.fn)
    except Exception:  # annotations that do not resolve: accept any value for those parameters
        hints = {}
    params = flow.signature.parameters.values()
    takes_any_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    fields: dict[str, Any] = {}
    for param in params:
        if param.kind in _VARIADIC:
            continue
        annotation = hints.get(param.name, Any)
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (annotation, default)
    config = ConfigDict(
        extra="allow" if takes_any_keyword else "forbid", arbitrary_types_allowed=True
    )
    model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        f"{flow.name} parameters", __config__=config, **fields
    )
    return model


def parameter_schema(flow: FlowLike) -> dict[str, Any]:
    """The JSON schema runs of this flow's deployments must match (extra names are refused)."""
    model = parameter_model(flow)
    try:
        schema = model.model_json_schema()
    except Exception:
        # Some annotation or default has no JSON form: still name the parameters and which are
        # required, so misspelled or missing ones are caught.
        schema = {
            "type": "object",
            "properties": {name: {} for name in model.model_fields},
            "required": [n for n, f in model.model_fields.items() if f.is_required()],
        }
        if model.model_config.get("extra") == "forbid":
            schema["additionalProperties"] = False
    return schema


def coerce_parameters(flow: FlowLike, parameters: dict[str, Any]) -> dict[str, Any]:
    """JSON parameters -> the values the flow's annotations ask for (only those given)."""
    validated = parameter_model(flow).model_validate(parameters)
    values = dict(validated)
    values.update(validated.model_extra or {})
    return {name: values[name] for name in parameters}
