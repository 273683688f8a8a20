"""The inbox: every run waiting for a person, oldest first."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from inloop import __version__
from inloop.schemas import InboxItem
from inloop.server.api.deps import get_db
from inloop.server.api.params import Offset
from inloop.server.api.responses import errors
from inloop.server.database.engine import Database
from inloop.server.permissions import require
from inloop.server.store import runs

router = APIRouter(tags=["inbox"])


class Count(BaseModel):
    count: int


class Health(BaseModel):
    status: str
    version: str
    database: str


@router.get("/health")
async def health(db: Database = Depends(get_db)) -> Health:
    return Health(status="ok", version=__version__, database=db.dialect_name)


@router.get("/inbox", responses=errors(422), dependencies=[require("runs:read")])
async def inbox(
    limit: int = Query(default=50, ge=1, le=1000),
    offset: Offset = 0,
    db: Database = Depends(get_db),
) -> list[InboxItem]:
    async with db.read() as conn:
        return await runs.inbox(conn, limit=limit, offset=offset)


@router.get("/inbox/count", dependencies=[require("runs:read")])
async def inbox_count(db: Database = Depends(get_db)) -> Count:
    async with db.read() as conn:
        return Count(count=await runs.inbox_count(conn))
