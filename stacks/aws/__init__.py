"""The AWS side: a CDK app that gives an account its own Claude endpoint on Amazon Bedrock.

`app.py` reads the typed configuration (`config.py`) once and composes three kinds of stacks from
the constructs in `constructs/`: Bedrock access per Bedrock region, a relay per relay region (the
Hong Kong relay is one of them) and the deployment's observability.
"""

import os
from pathlib import Path

# jsii runs CDK's kernel on the `node` found on PATH: on a fresh machine Node 20, end-of-life
# since 2026-10-30, about which jsii warns on stderr at every synthesis. The bootstrap installs
# Node 22 beside the CDK CLI (package-lock.json); use it unless JSII_NODE says otherwise.
_BOOTSTRAP_NODE = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "node"
if _BOOTSTRAP_NODE.is_file():
    os.environ.setdefault("JSII_NODE", str(_BOOTSTRAP_NODE))
