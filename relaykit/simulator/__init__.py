"""An offline Amazon Bedrock Runtime for Claude: the wire protocol boto3 speaks, simulated.

moto's bedrock-runtime is a stub, so the kit ships this stand-in: InvokeModel,
InvokeModelWithResponseStream (event-stream framed) and CountTokens for the catalog's models,
with Bedrock's errors, deterministic replies labelled as simulated, and injectable faults.
The same server answers Claude on Vertex AI's rawPredict, streamRawPredict (Server-Sent Events)
and count-tokens paths with Vertex's errors (`relaykit.simulator.vertex`).
"""

from relaykit.simulator.app import create_app
from relaykit.simulator.client import simulator_client, simulator_session
from relaykit.simulator.config import SimulatorConfig
from relaykit.simulator.faults import FAULTS
from relaykit.simulator.server import SimulatorServer, serve

__all__ = [
    "FAULTS",
    "SimulatorConfig",
    "SimulatorServer",
    "create_app",
    "serve",
    "simulator_client",
    "simulator_session",
]
