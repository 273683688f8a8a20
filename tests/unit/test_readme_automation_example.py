"""The automation the README shows is one `inloop automation apply` accepts."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from inloop.automations import AutomationFile

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_yaml_block_is_a_valid_automation_file() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), re.S)
    assert blocks, "the README shows an automations file"
    for block in blocks:
        parsed = AutomationFile.model_validate(yaml.safe_load(block))
        assert parsed.automations[0].trigger.after == 3600
