"""An offline Amazon Bedrock Runtime for Claude: the wire protocol boto3 speaks, simulated.

moto's bedrock-runtime is a stub, so the kit ships this stand-in: InvokeModel,
InvokeModelWithResponseStream (event-stream framed) and CountTokens for the catalog's models,
with Bedrock's errors, deterministic replies labelled as simulated, and injectable faults.
"""

from relaykit.simulator.app import create_app
from relaykit.simulator.client import simulator_client
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
]
