"""Values as JSON can hold them: every command's --json and the dashboard's API.

NaN and infinities are not JSON (a browser's `JSON.parse` refuses them): they become
null, recursively through dicts, lists and tuples.
"""

from __future__ import annotations

import math
from typing import Any


def json_safe(v: Any) -> Any:
    """`v` with every non-finite float replaced by None."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: json_safe(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [json_safe(x) for x in v]
    return v
