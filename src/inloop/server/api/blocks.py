"""Blocks: small named JSON documents flows keep between runs (e.g. seen input keys)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from inloop.bounds import Text
from inloop.schemas import BlockDocument, BlockSave
from inloop.server.access import Principal, check_block_write
from inloop.server.api.deps import get_db
from inloop.server.api.responses import errors
from inloop.server.database.engine import Database
from inloop.server.errors import NotFound
from inloop.server.permissions import principal, require, run_facts
from inloop.server.store import blocks

router = APIRouter(prefix="/blocks", tags=["blocks"])
BlockType = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=100)]
BlockName = Annotated[Text, Path(min_length=1, max_length=300)]


@router.get(
    "/{block_type}/{name:path}", responses=errors(404, 422),
    dependencies=[require("blocks:read")],
)
async def read_block(
    block_type: BlockType, name: BlockName, db: Database = Depends(get_db)
) -> BlockDocument:
    async with db.read() as conn:
        found = await blocks.read_block(conn, block_type, name)
    if found is None:
        raise NotFound(f"no {block_type} block named {name!r}")
    return found


@router.put(
    "/{block_type}/{name:path}", responses=errors(409, 413, 422),
    dependencies=[require("blocks:write")],
)
async def save_block(
    body: BlockSave,
    block_type: BlockType,
    name: BlockName,
    request: Request,
    caller: Principal = Depends(principal),
    db: Database = Depends(get_db),
) -> BlockDocument:
    await check_block_write(run_facts(request), caller, name)
    async with db.transaction() as tx:
        return await blocks.save_block(tx, block_type, name, body.value, body.overwrite)


@router.delete(
    "/{block_type}/{name:path}", status_code=204, responses=errors(404, 422),
    dependencies=[require("blocks:write")],
)
async def delete_block(
    block_type: BlockType,
    name: BlockName,
    request: Request,
    caller: Principal = Depends(principal),
    db: Database = Depends(get_db),
) -> None:
    await check_block_write(run_facts(request), caller, name)
    async with db.transaction() as tx:
        if not await blocks.delete_block(tx, block_type, name):
            raise NotFound(f"no {block_type} block named {name!r}")
