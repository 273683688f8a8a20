"""The JSON block: any JSON value, saved under a name and loaded back, across runs."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from inloop._dual import DUAL_TYPES, async_twin, dual, dual_classmethod
from inloop.client import ObjectAlreadyExists, get_client
from inloop.schemas import BlockDocument

__all__ = ["JSON"]


class JSON(BaseModel):
    """`JSON(value=[...])`, `await block.save(name, overwrite=True)`, `await JSON.load(name)`."""

    # ignored_types: the dual methods below are methods, not fields.
    model_config = ConfigDict(ignored_types=DUAL_TYPES)

    block_type: ClassVar[str] = "json"
    value: Any = None

    @dual
    async def save(self, name: str, overwrite: bool = False) -> UUID:
        """Store the value under `name`; return the block's id (kept when overwritten)."""
        try:
            saved: BlockDocument = await get_client().save_block.aio(
                self.block_type, _path_name(name), self.value, overwrite=overwrite
            )
        except ObjectAlreadyExists as exc:
            raise ValueError(
                f"a JSON block named {name!r} already exists; pass overwrite=True to replace it"
            ) from exc
        return saved.id

    @dual_classmethod
    @classmethod
    async def load(cls, name: str) -> JSON:
        found = await get_client().read_block.aio(cls.block_type, _path_name(name))
        if found is None:
            raise ValueError(
                f"no JSON block named {name!r}; create one with JSON(value=...).save({name!r})"
            )
        return cls(value=found.value)

    # Explicit async twins (see inloop._dual): coroutine functions wherever they are called.
    save_async: ClassVar = async_twin(save)
    load_async: ClassVar = async_twin(load)


def _path_name(name: str) -> str:
    if not name or len(name) > 300:
        raise ValueError(f"block name {name!r} must be 1 to 300 characters long")
    return quote(name, safe="")
