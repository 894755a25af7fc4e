"""The receiver's region (octoplan/receive/settings.py): only `region:` of octoplan.yaml is
read, FR when the file or the key is absent, and a malformed one is refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from octoplan.errors import UsageError
from octoplan.receive.settings import project_region
from tests.fixtures.project import run_cli


@pytest.mark.parametrize(
    ("config", "region"),
    [
        (None, "FR"),  # no octoplan.yaml
        ("vars: {brand: ShopX}\n", "FR"),  # no region key
        ("# empty\n", "FR"),  # not a mapping
        ("region: be \n", "BE"),
    ],
)
def test_the_region_is_read_or_defaults_to_fr(
    tmp_path: Path, config: str | None, region: str
) -> None:
    if config is not None:
        (tmp_path / "octoplan.yaml").write_text(config)
    assert project_region(tmp_path) == region


def test_a_region_that_is_not_a_country_code_is_refused(tmp_path: Path) -> None:
    (tmp_path / "octoplan.yaml").write_text("region: France\n")
    with pytest.raises(UsageError) as refused:
        project_region(tmp_path)
    message = (
        f"{tmp_path / 'octoplan.yaml'}: `region` must be a two-letter country code, not 'France'"
    )
    assert str(refused.value) == message
    # The CLI's reply helper reads it the same way, before it writes anything.
    result = run_cli("sandbox", "reply", "0612345678", "STOP", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (1, f"error: {message}\n")
    assert not (tmp_path / ".octoplan" / "sandbox.db").exists()


def test_a_national_number_is_read_in_the_projects_region(tmp_path: Path) -> None:
    (tmp_path / "octoplan.yaml").write_text("region: BE\n")
    # 0612345678 is not a Belgian mobile number; 0470123456 is.
    french = run_cli("sandbox", "reply", "0612345678", "STOP", cwd=tmp_path)
    assert (french.returncode, french.stderr) == (
        1,
        "error: '0612345678' is not a valid phone number\n",
    )
    belgian = run_cli("sandbox", "reply", "0470123456", "STOP", cwd=tmp_path)
    assert belgian.returncode == 0, belgian.stderr
