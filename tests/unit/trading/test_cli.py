"""``binfut backtest``: a CSV and a TOML config in, a report and a summary table out; errors in one line."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from binfut.cli import app as binfut_app
from binfut.trading.cli import backtest_app, parse_time
from unit.trading.support import make_bars

SHARED = """# one file for binfut backtest, paper and live
[strategy]
short_window = 5
long_window = 20
quantity = "0.02"

[risk]
max_drawdown = "0.5"

[backtest]
leverage = 5
initial_balance = "5000"

[paper]
initial_balance = "5000"

[live]
leverage = 5
cancel_on_stop = true
"""


def bars_csv(tmp_path, n: int = 120):  # noqa: ANN001, ANN201
    csv = tmp_path / "bars.csv"
    make_bars(n, seed=2).reset_index().to_csv(csv, index=False)
    return csv


def test_backtest_from_a_csv_with_a_toml_config(tmp_path) -> None:  # noqa: ANN001
    bars = make_bars(600, seed=2)
    csv = tmp_path / "bars.csv"
    bars.reset_index().assign(open_time=lambda d: d.open_time.dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(csv, index=False)
    config = tmp_path / "cfg.toml"
    config.write_text('[strategy]\nshort_window = 5\nlong_window = 20\nquantity = "0.02"\n'
                      '[backtest]\nleverage = 5\ninitial_balance = "5000"\n[risk]\nmax_drawdown = "0.5"\n')

    result = CliRunner().invoke(backtest_app, ["backtest", "--config", str(config), "--data", str(csv), "--out",
                                               str(tmp_path / "rep"), "--funding-rate", "0.0001",
                                               "--start", "2024-01-01T01:00", "--end", "2024-01-01T09:00"])

    assert result.exit_code == 0, result.output
    assert "sharpe" in result.output and "report:" in result.output
    summary = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert summary["bars"] == 480 and summary["engine"] == "vectorized" and summary["fills"] > 0
    assert summary["initial_balance"] == "5000" and summary["funding"] != "0"
    assert (tmp_path / "rep" / "report.html").exists()


def test_unknown_config_keys_are_one_line_errors(tmp_path) -> None:  # noqa: ANN001
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"strategy": {"short_windw": 5}}))
    csv = tmp_path / "bars.csv"
    make_bars(50).reset_index().to_csv(csv, index=False)

    result = CliRunner().invoke(backtest_app, ["backtest", "--config", str(config), "--data", str(csv)])

    assert result.exit_code == 1
    assert "error: ValidationError" in result.output and "short_windw" in result.output
    assert "[strategy]" in result.output and result.output.count("\n") == 1


def test_one_config_file_serves_backtest_paper_and_live(tmp_path) -> None:  # noqa: ANN001
    config = tmp_path / "trading.toml"
    config.write_text(SHARED)

    result = CliRunner().invoke(binfut_app, ["backtest", "--config", str(config), "--data", str(bars_csv(tmp_path)),
                                             "--out", str(tmp_path / "rep")])  # fmt: skip

    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "rep" / "summary.json").read_text())["initial_balance"] == "5000"
    assert "klines from" not in result.stderr  # --data: nothing remote, so no target is named


def test_unknown_tables_and_keys_are_named(tmp_path) -> None:  # noqa: ANN001
    csv = bars_csv(tmp_path)
    typo_table = tmp_path / "table.toml"
    typo_table.write_text(SHARED + "[papr]\ninitial_balance = 1\n")
    typo_key = tmp_path / "key.toml"
    typo_key.write_text(SHARED.replace("leverage = 5\ninitial_balance", "levrage = 5\ninitial_balance"))

    table = CliRunner().invoke(binfut_app, ["backtest", "--config", str(typo_table), "--data", str(csv)])
    key = CliRunner().invoke(binfut_app, ["backtest", "--config", str(typo_key), "--data", str(csv)])

    assert table.exit_code == 1 and table.stderr == (
        f"error: ValueError: unknown config tables ['papr'] in {typo_table}: use strategy, risk, backtest, paper, live\n"
    )
    assert key.exit_code == 1
    assert key.stderr == "error: ValidationError: [backtest]: Object contains unknown field `levrage`\n"


def test_times_parse_as_utc() -> None:
    assert parse_time("2024-01-01") == 1_704_067_200_000
    assert parse_time("2024-01-01T00:01") == 1_704_067_260_000
    assert parse_time("1704067200000") == 1_704_067_200_000 and parse_time(None) is None
