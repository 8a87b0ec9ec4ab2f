"""pytest plugin: in CI (the CI environment variable set) a skipped test fails unless it declares
why it may skip there with @pytest.mark.may_skip_in_ci(reason="…"). A skip in CI otherwise hides a
missing part (Chromium, redis-server, a driver) behind a green run."""
import os

import pytest

MARKER = "may_skip_in_ci"


def pytest_configure(config):
    """Register the marker."""
    config.addinivalue_line("markers", f"{MARKER}(reason): this test may be skipped in CI, for the reason given")


def _declared(item):
    marker = item.get_closest_marker(MARKER)
    return marker is not None and bool((marker.args[:1] or [marker.kwargs.get("reason")])[0])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Turn an undeclared skip into a failure when running in CI."""
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and os.environ.get("CI")) or hasattr(report, "wasxfail") or _declared(item):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    report.outcome = "failed"
    report.longrepr = (f"skipped in CI without a declared reason ({reason}); install what it needs, or mark "
                       f"it @pytest.mark.{MARKER}(reason=...) if skipping in CI is right")
