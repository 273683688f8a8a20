"""The JSON block against a real server: save, load, overwrite, absent names, sync and async use."""

from __future__ import annotations

import uuid

import pytest

from inloop import flow, get_run_context
from inloop.blocks.system import JSON

# Awaits @dual functions the way the seed examples do: right at run time, reported by a type
# checker (see inloop._dual), hence the `type: ignore[misc]` on those lines.

pytestmark = pytest.mark.usefixtures("server")


def unique(prefix: str = "block") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_save_and_load_round_trips_any_json_value() -> None:
    for value in [[], ["a-key", "b-key"], {"nested": {"list": [1, 2.5, None, True]}}, "text", 3]:
        name = unique()
        await JSON(value=value).save(name)  # type: ignore[misc]
        loaded = await JSON.load(name)  # type: ignore[misc]
        assert isinstance(loaded, JSON)
        assert loaded.value == value


async def test_load_of_an_absent_name_raises_value_error_naming_it() -> None:
    name = unique("missing")
    with pytest.raises(ValueError, match=name):
        await JSON.load(name)  # type: ignore[misc]


async def test_saving_over_an_existing_name_needs_overwrite() -> None:
    name = unique()
    await JSON(value=[1]).save(name)  # type: ignore[misc]
    with pytest.raises(ValueError, match="overwrite=True") as info:
        await JSON(value=[2]).save(name)  # type: ignore[misc]
    assert name in str(info.value)
    assert (await JSON.load(name)).value == [1]  # type: ignore[misc]
    await JSON(value=[2]).save(name, overwrite=True)  # type: ignore[misc]
    assert (await JSON.load(name)).value == [2]  # type: ignore[misc]


async def test_save_returns_the_block_id_kept_across_overwrites_and_distinct_per_name() -> None:
    first, second = unique(), unique()
    first_id = await JSON(value=1).save(first)  # type: ignore[misc]
    assert isinstance(first_id, uuid.UUID)
    assert await JSON(value=2).save(first, overwrite=True) == first_id  # type: ignore[misc]
    assert await JSON(value=3).save(second) != first_id  # type: ignore[misc]


async def test_overwrite_true_also_creates() -> None:
    name = unique()
    await JSON(value={"a": 1}).save(name=name, overwrite=True)  # type: ignore[misc]
    assert (await JSON.load(name)).value == {"a": 1}  # type: ignore[misc]


def test_sync_use_without_await() -> None:
    name = unique("sync")
    block = JSON(value=[])
    block.value.append("str-auto-1")
    block_id = block.save(name)
    assert isinstance(block_id, uuid.UUID)  # like the reference's Block.save()
    assert JSON.load(name).value == ["str-auto-1"]
    block.value.append("str-auto-2")
    assert block.save(name, overwrite=True) == block_id  # the same block, overwritten
    assert JSON.load(name).value == ["str-auto-1", "str-auto-2"]
    with pytest.raises(ValueError, match="overwrite=True"):
        block.save(name)
    with pytest.raises(ValueError):
        JSON.load(unique("sync-missing"))


@pytest.mark.parametrize("name", ["With Spaces", "slash/in/name", "dots.and_under", "ünïcode ✓"])
def test_names_beyond_key_characters_round_trip(name: str) -> None:
    full = f"{name}-{uuid.uuid4().hex[:6]}"
    JSON(value=full).save(full)
    assert JSON.load(full).value == full


async def test_seen_keys_pattern_from_the_seed() -> None:
    """The seed's `{run id}-seen-ids` block: load or start empty, append, save, overwrite."""

    @flow
    async def greeter() -> list[str]:
        block_name = f"{get_run_context().flow_run.id}-seen-ids"
        try:
            seen_keys_block = await JSON.load(block_name)  # type: ignore[misc]
        except ValueError:
            seen_keys_block = JSON(value=[])
        for key in ["str-auto-a", "str-auto-b"]:
            seen_keys_block.value.append(key)
            await seen_keys_block.save(name=block_name, overwrite=True)
        return [block_name, *(await JSON.load(block_name)).value]  # type: ignore[misc]

    block_name, *seen = await greeter()
    assert seen == ["str-auto-a", "str-auto-b"]
    assert (await JSON.load(block_name)).value == seen  # type: ignore[misc]
