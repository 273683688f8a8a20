"""Path and query parameters shared by the routers, bounded like every other input."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from inloop.bounds import MAX_INT64, Text
from inloop.server.database.schema import UUID_LEN

__all__ = ["Cursor", "DeploymentId", "Name", "Offset", "RunId"]

# Ids are UUIDs; other text of that length is simply not found (404). Longer text, NUL and the
# like are a 422: no id column could hold them.
RunId = Annotated[Text, Path(max_length=UUID_LEN, description="a flow run id (UUID)")]
DeploymentId = Annotated[Text, Path(max_length=UUID_LEN, description="a deployment id (UUID)")]
Name = Annotated[Text, Path(min_length=1, max_length=200)]
Offset = Annotated[int, Query(ge=0, le=MAX_INT64)]
Cursor = Annotated[int, Query(ge=0, le=MAX_INT64)]
