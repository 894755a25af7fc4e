from __future__ import annotations

import json
from pathlib import Path

from tests.fixtures.project import run_cli


def test_count_json_contract(tmp_path: Path) -> None:
    result = run_cli("count", "a" * 161, "--format", "json", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout) == {"encoding": "GSM-7", "characters": 161, "segments": 2}


def test_count_text_names_the_characters_forcing_ucs2(tmp_path: Path) -> None:
    result = run_cli("count", "L’été… 😀", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout == (
        "encoding: UCS-2\n"
        "characters: 8\n"
        "segments: 1\n"
        "units: 9 UTF-16 units\n"
        "not GSM-7: '’' (U+2019) at character 2: replace with \"'\"\n"
        "not GSM-7: '…' (U+2026) at character 6: replace with '...'\n"
        "not GSM-7: '😀' (U+1F600) at character 8\n"
    )


def test_count_reads_stdin_without_its_final_newline(tmp_path: Path) -> None:
    for args in (("count", "-", "--format", "json"), ("count", "--format", "json")):
        result = run_cli(*args, cwd=tmp_path, input="{€}\n")
        assert json.loads(result.stdout) == {"encoding": "GSM-7", "characters": 3, "segments": 1}


def test_count_names_ten_characters_outside_gsm7_and_counts_the_rest(tmp_path: Path) -> None:
    result = run_cli("count", "ÁÂÃÈÊËÍÎÏÓÔÕ", cwd=tmp_path)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[:4] == [
        "encoding: UCS-2",
        "characters: 12",
        "segments: 1",
        "units: 12 UTF-16 units",
    ]
    assert len(lines) == 4 + 10 + 1
    assert lines[4] == "not GSM-7: 'Á' (U+00C1) at character 1"
    assert lines[13] == "not GSM-7: 'Ó' (U+00D3) at character 10"
    assert lines[-1] == "... and 2 more characters outside GSM-7"
