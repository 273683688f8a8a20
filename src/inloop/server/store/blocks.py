"""All reads and writes of blocks: named JSON documents, by block type."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from inloop.schemas import BlockDocument
from inloop.server.database.engine import Connection, Tx
from inloop.server.database.schema import blocks, utcnow
from inloop.server.errors import Conflict

__all__ = ["delete_block", "read_block", "save_block"]


def _to_document(row: Any) -> BlockDocument:
    return BlockDocument(
        id=row.id,
        block_type=row.block_type,
        name=row.name,
        value=row.value,
        created=row.created,
        updated=row.updated,
    )


def _where(block_type: str, name: str) -> Any:
    return sa.and_(blocks.c.block_type == block_type, blocks.c.name == name)


async def read_block(conn: Connection, block_type: str, name: str) -> BlockDocument | None:
    row = (await conn.execute(sa.select(blocks).where(_where(block_type, name)))).first()
    return _to_document(row) if row is not None else None


async def save_block(
    tx: Tx, block_type: str, name: str, value: Any, overwrite: bool
) -> BlockDocument:
    now = utcnow()
    query = sa.select(blocks).where(_where(block_type, name))
    if tx.conn.dialect.name == "postgresql":
        query = query.with_for_update()
    existing = (await tx.execute(query)).first()
    if existing is not None:
        if not overwrite:
            raise Conflict(
                f"a {block_type} block named {name!r} already exists; "
                "pass overwrite=True to replace it"
            )
        await tx.execute(blocks.update().where(_where(block_type, name)).values(
            value=value, updated=now))
    else:
        await tx.execute(blocks.insert().values(
            id=str(uuid.uuid4()), block_type=block_type, name=name, value=value, created=now,
            updated=now))
    row = (await tx.execute(sa.select(blocks).where(_where(block_type, name)))).one()
    return _to_document(row)


async def delete_block(tx: Tx, block_type: str, name: str) -> bool:
    result = await tx.execute(blocks.delete().where(_where(block_type, name)))
    return bool(result.rowcount)
