"""Run hostile cases in this process and print one JSON line per case (flushed), so that a parent process
can tell which case killed it: ``python -m tests.hostile.runner ID [ID ...]`` (ids of ``cases.CASES``)."""
from __future__ import annotations

import contextlib
import io
import json
import sys
import traceback
import warnings


def run_case(code: str) -> dict:
    """Execute ``code``; -> {"outcome": "ok" | "raised" | "exit", "type", "message", "stderr"}."""
    namespace: dict = {}
    err = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")  # warnings are results here (e.g. non-finite particles)
            exec(compile(code, "<case>", "exec"), namespace)
    except SystemExit as exc:
        return {"outcome": "exit", "type": "SystemExit", "message": str(exc.code), "stderr": err.getvalue()}
    except AssertionError as exc:
        return {"outcome": "wrong", "type": "AssertionError", "message": str(exc) or traceback.format_exc(limit=3),
                "stderr": err.getvalue()}
    except BaseException as exc:  # noqa: BLE001 - every outcome is recorded
        return {"outcome": "raised", "type": type(exc).__name__, "message": str(exc), "stderr": err.getvalue(),
                "trace": traceback.format_exc(limit=4)}
    return {"outcome": "ok", "type": "", "message": "", "stderr": err.getvalue()}


def main(ids: list[str]) -> None:
    from tests.hostile.cases import CASES, PRELUDE

    for case_id in ids:
        result = run_case(PRELUDE + CASES[case_id].code)
        result["id"] = case_id
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
