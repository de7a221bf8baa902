"""Running the simulator: in a background thread for tests and benchmarks, or in the foreground.

`SimulatorServer` serves on a loopback port (a free one unless given) while its `with` block
runs; `serve` is what `relaykit simulator` calls.
"""

from __future__ import annotations

from collections.abc import Callable

import uvicorn

from relaykit.simulator.app import create_app
from relaykit.simulator.config import SimulatorConfig
from relaykit.simulator.state import SimulatorState
from relaykit.threaded import LOOPBACK, ThreadedServer, listen


def serve(
    host: str = LOOPBACK,
    port: int = 8788,
    config: SimulatorConfig | None = None,
    ready: Callable[[str], None] = lambda _: None,
) -> None:
    """Run the simulator in the foreground until interrupted (the CLI's entry point).

    The port is taken first (a Failure naming --port otherwise); `ready` then hears the URL.
    """
    sock = listen(host, port, "Bedrock simulator")
    try:
        ready(f"http://{host}:{sock.getsockname()[1]}")
        app = create_app(config)
        uvicorn.Server(uvicorn.Config(app, log_level="info", access_log=False)).run(sockets=[sock])
    finally:
        sock.close()


class SimulatorServer(ThreadedServer):
    """The simulator under uvicorn in a daemon thread.

    with SimulatorServer() as sim:
        client = simulator_client(sim.endpoint_url)

    `state` is the live SimulatorState (stats, faults, cache) for assertions in-process; the
    same is reachable over HTTP under /_simulator/.
    """

    def __init__(
        self, config: SimulatorConfig | None = None, *, host: str = LOOPBACK, port: int = 0
    ) -> None:
        self.simulator_app = create_app(config)
        super().__init__(self.simulator_app, host=host, port=port, name="Bedrock simulator")

    @property
    def state(self) -> SimulatorState:
        state: SimulatorState = self.simulator_app.state.simulator
        return state

    @property
    def endpoint_url(self) -> str:
        """The URL to give boto3 as `endpoint_url`."""
        return self.url

    def __repr__(self) -> str:
        return f"SimulatorServer({self.endpoint_url if self.running else 'stopped'})"
