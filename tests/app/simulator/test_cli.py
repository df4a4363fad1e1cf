"""Flag parsing of `paystream simulator`; serving is covered by every test that uses the fixture."""

import pytest

from app.simulator.cli import build_parser, parse_config
from app.simulator.config import LatencyDistribution, SimConfig


def config_from(argv: list[str]) -> SimConfig:
    parser = build_parser()
    return parse_config(parser, parser.parse_args(argv))


def test_flags_become_the_config() -> None:
    argv = ["--port", "9000", "--latency-ms", "200", "--latency-jitter-ms", "50"]
    argv += ["--fail-before-rate", "0.1", "--fail-after-rate", "0.05"]
    argv += ["--rate-limit-rate", "0.2", "--seed", "42"]

    assert config_from(argv) == SimConfig(
        latency_ms=200,
        latency_jitter_ms=50,
        fail_before_rate=0.1,
        fail_after_rate=0.05,
        rate_limit_rate=0.2,
        seed=42,
    )


def test_new_fault_flags_become_the_config() -> None:
    argv = ["--port", "9000", "--latency-distribution", "lognormal", "--latency-ms", "80"]
    argv += ["--latency-p99-ms", "700", "--hang-after-rate", "0.03", "--hang-ms", "45000"]
    argv += ["--rate-limit-burst-s", "5"]
    argv += ["--rules", '{"pm_card_visa": {"fail_after_rate": 0.5}, "AUTH_success": {}}']

    assert config_from(argv) == SimConfig(
        latency_distribution=LatencyDistribution.LOGNORMAL,
        latency_ms=80,
        latency_p99_ms=700,
        hang_after_rate=0.03,
        hang_ms=45_000,
        rate_limit_burst_s=5,
        rules={"pm_card_visa": {"fail_after_rate": 0.5}, "AUTH_success": {}},
    )


def test_defaults_are_fault_free() -> None:
    parser = build_parser()
    arguments = parser.parse_args(["--port", "9000"])

    assert (arguments.host, arguments.port) == ("127.0.0.1", 9000)
    assert parse_config(parser, arguments) == SimConfig()


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--port", "x"],
        ["--port", "9000", "--fail-after-rate", "2"],
        ["--port", "9000", "--hang-ms", "60001"],
        ["--port", "9000", "--latency-distribution", "normal"],
        ["--port", "9000", "--latency-distribution", "lognormal", "--latency-ms", "50"],
        ["--port", "9000", "--rules", "{pm_card_visa: 1}"],
        ["--port", "9000", "--rules", '{"pm_card_visa": {"colour": 1}}'],
        ["--port", "9000", "--rules", '{"pm_card_visa": {"fail_after_rate": 2}}'],
    ],
)
def test_bad_flags_exit_with_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        config_from(argv)

    assert exited.value.code == 2
    assert "usage:" in capsys.readouterr().err
