"""label_text's fast path for printable text gives what its rule (control characters and
runs of spaces made one space, stripped) gives, for every character up to U+30FF (every
Unicode space and control character is there) and a few beyond."""

from __future__ import annotations

from treeoflife.taxonomy.ranks import _CONTROL, label_text


def _rule(value: object) -> str:
    return "" if value is None else _CONTROL.sub(" ", str(value)).strip()


def test_label_text_is_its_rule_for_every_space_and_control_character() -> None:
    values: list[object] = [None, 1, True, "", " ", "a  b", " a", "a ", "Morus alba"]
    for c in [*range(0x3100), 0xFEFF, 0xFFFC, 0x1D173, 0xE0001, 0x10FFFF]:
        ch = chr(c)
        values += [ch, f"a{ch}b", f"{ch}a"]
    assert [v for v in values if label_text(v) != _rule(v)] == []
