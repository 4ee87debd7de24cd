"""airflow/requirements.txt (MWAA), airflow/requirements-test.txt and airflow/constraints.txt agree with each
other and with what is installed in the Airflow test venv."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

AIRFLOW_DIR = Path(__file__).resolve().parents[2] / "airflow"


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;#]+)", line.strip())
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def test_mwaa_requirements_pin_the_provider_within_the_airflow_constraints():
    text = (AIRFLOW_DIR / "requirements.txt").read_text()
    constraint_lines = [line for line in text.splitlines() if line.startswith("--constraint")]
    assert constraint_lines == [
        '--constraint "https://raw.githubusercontent.com/apache/airflow/constraints-3.0.6/constraints-3.12.txt"'
    ]
    requirement_lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert not any("[sdk]" in line for line in requirement_lines)
    mwaa = pins(AIRFLOW_DIR / "requirements.txt")
    constraints = pins(AIRFLOW_DIR / "constraints.txt")
    assert set(mwaa) == {"apache-airflow-providers-databricks", "apache-airflow-providers-fab"}
    for name, pinned in mwaa.items():
        assert constraints[name] == pinned, name


def test_test_venv_installs_what_mwaa_runs():
    mwaa = pins(AIRFLOW_DIR / "requirements.txt")
    test = pins(AIRFLOW_DIR / "requirements-test.txt")
    assert test["apache-airflow"] == "3.0.6"
    for name, pinned in mwaa.items():
        assert test[name] == pinned, name
    for name, pinned in {**mwaa, "apache-airflow": "3.0.6"}.items():
        assert version(name) == pinned, f"{name} installed {version(name)}, pinned {pinned}: rerun make setup"
