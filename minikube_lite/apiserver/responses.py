"""The JSON response every API path answers with.

Starlette's ``JSONResponse`` writes raw UTF-8 (``ensure_ascii=False``), which fails on a string
holding a lone surrogate — and such strings do arrive: JSON allows the escape ``"\\ud800"``,
Python decodes it as is, and it can sit in an annotation or in an error message quoting the
user's input. Go's decoder (kube-apiserver) turns them into U+FFFD; here the reply escapes
non-ASCII text instead (``\\uXXXX``), which is equally valid JSON for every client and can never
fail, so no request can turn into a 500 through its own text.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse  # FastAPI's is this one; the kubelet imports no FastAPI


class KubeJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")
