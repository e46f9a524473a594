"""tests/conftest.py: a skipped test fails the run (LBCTL_ALLOW_SKIPS=1 allows skips, but not in
tests/unit), and an expected failure is no skip. Each case runs pytest on a small tree of its own
that has a copy of that conftest."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"

SKIPS = "import pytest\n\ndef test_needs_a_lab():\n    pytest.skip('no lab here')\n"
SKIPS_AT_IMPORT = "import pytest\npytest.importorskip('no_such_module_anywhere')\n"
PASSES = "def test_passes():\n    pass\n"
XFAILS = "import pytest\n\n@pytest.mark.xfail(strict=True)\ndef test_known_bug():\n    assert False\n"


def run(tmp_path, files, allow=None):
    """pytest over `files` ({relative path: text}) beside the conftest -> (exit code, output)."""
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "LBCTL_ALLOW_SKIPS"}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"   # (quicker: this tree needs none)
    if allow is not None:
        env["LBCTL_ALLOW_SKIPS"] = allow
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", str(tmp_path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout


@pytest.mark.parametrize("files, allow, code", [
    ({"integration/test_lab.py": SKIPS, "unit/test_ok.py": PASSES}, None, 1),
    ({"integration/test_lab.py": SKIPS, "unit/test_ok.py": PASSES}, "1", 0),
    ({"integration/test_lab.py": SKIPS_AT_IMPORT}, None, 1),
    ({"integration/test_lab.py": SKIPS_AT_IMPORT, "unit/test_ok.py": PASSES}, "1", 0),
    ({"unit/test_lab.py": SKIPS}, "1", 1),
    ({"unit/test_ok.py": PASSES, "unit/test_bug.py": XFAILS}, None, 0),
])
def test_a_skip_fails_the_run_unless_allowed_and_never_in_the_unit_tests(tmp_path, files, allow, code):
    got, out = run(tmp_path, files, allow)
    assert got == code, out
    if code:
        assert "skipped: every test must run" in out and "LBCTL_ALLOW_SKIPS=1" in out, out


def test_a_failure_keeps_its_own_exit_code(tmp_path):
    got, _ = run(tmp_path, {"integration/test_lab.py": SKIPS, "test_fails.py": "def test_fails():\n    assert False\n"})
    assert got == pytest.ExitCode.TESTS_FAILED
