"""The commands that run something: `local`, `serve`, `simulator`, `deploy-rehearsal`.

Each command's flags are declared here, once. The heavy imports (the relay, moto, the anthropic
SDK: seconds on a cold start) happen inside the commands, after a line saying so.
"""

from __future__ import annotations

from typing import Annotated

import typer

from relay.aliases import parse_alias_flags
from relay.catalog import Routing
from relaykit.key_limits import NAMES as LIMIT_NAMES
from relaykit.key_limits import parse_key_limits
from relaykit.options import (
    DEFAULT_PORT,
    LOOPBACK,
    SIMULATOR_PORT,
    Backend,
    BackendOption,
    BedrockRegion,
    FixedKey,
    Host,
    Port,
    RoutingOption,
    check_bedrock_region,
)
from relaykit.server_options import ServerOptions


def _loading(what: str) -> None:
    print(f"... loading {what}", flush=True)


def local(
    host: Host = LOOPBACK,
    port: Port = DEFAULT_PORT,
    backend: BackendOption = Backend.SIMULATOR,
    region: BedrockRegion = "us-east-1",
    routing: RoutingOption = Routing.GLOBAL,
    key: FixedKey = None,
    bedrock: Annotated[
        bool, typer.Option("--bedrock", help="Same as --backend bedrock: real Bedrock, billed.")
    ] = False,
    once: Annotated[
        bool, typer.Option("--once", help="Stop after the demo calls instead of serving.")
    ] = False,
    deploy: Annotated[
        bool,
        typer.Option(
            "--deploy", help="First deploy the CDK app into an embedded AWS (deploy-rehearsal)."
        ),
    ] = False,
) -> None:
    """Start the relay on localhost, call it with the anthropic SDK, keep serving.

    Example: relaykit local --once
    """
    check_bedrock_region(region, routing)
    from relaykit.threaded import listen

    # Fail on a taken port before anything slow starts (the relay binds it again once built).
    listen(host, port, "relay").close()
    _loading("the relay, the embedded AWS and the anthropic SDK")
    from relaykit.local import LocalOptions, run_local

    options = LocalOptions(
        host=host,
        port=port,
        backend=Backend.BEDROCK if bedrock else backend,
        region=region,
        routing=routing,
        key=key,
        serve=not once,
    )
    if deploy:
        from relaykit.rehearsal import RehearsalOptions, rehearsed

        with rehearsed(RehearsalOptions()):
            print()
            run_local(options)
    else:
        run_local(options)


def serve(
    host: Host = LOOPBACK,
    port: Port = DEFAULT_PORT,
    backend: BackendOption = Backend.SIMULATOR,
    region: BedrockRegion = "us-east-1",
    routing: RoutingOption = Routing.GLOBAL,
    key: FixedKey = None,
    key_limits: Annotated[
        str | None,
        typer.Option(
            metavar="NAME=VALUE,...",
            help=f"Issue the key from the table with these limits ({', '.join(LIMIT_NAMES)}).",
        ),
    ] = None,
    alias: Annotated[
        list[str] | None,
        typer.Option(
            metavar="PATTERN=MODEL",
            help="Serve unserved model names matching PATTERN (* matches anything) as MODEL; "
            "repeatable (RELAY_MODEL_ALIASES).",
        ),
    ] = None,
    keep_alive: Annotated[
        float, typer.Option(min=1, help="Seconds an idle keep-alive connection stays open.")
    ] = ServerOptions.keep_alive,
    limit_concurrency: Annotated[
        int, typer.Option(min=1, help="Connections at once before answering 503.")
    ] = ServerOptions.limit_concurrency,
    graceful_shutdown: Annotated[
        float, typer.Option(min=0, help="Seconds a shutdown waits for open requests and streams.")
    ] = ServerOptions.graceful_shutdown,
) -> None:
    """Serve the relay in the foreground (until Ctrl-C).

    Example: relaykit serve --port 8787 --key-limits rpm=60,daily-usd=1
    """
    limits = parse_key_limits(key_limits)
    if limits and key:
        raise typer.BadParameter("a fixed --key has no limits: drop --key or --key-limits")
    check_bedrock_region(region, routing)
    aliases = parse_alias_flags(alias or [])
    server = ServerOptions(keep_alive, limit_concurrency, graceful_shutdown)
    from relaykit.threaded import listen

    # The port first: a taken one fails before anything is printed or started.
    sock = listen(host, port, "relay")
    _loading("the relay and the embedded AWS")
    from relaykit.serve import ServeOptions
    from relaykit.serve import serve as run

    run(ServeOptions(host, port, backend, region, routing, key, limits, aliases, server), sock)


def simulator(host: Host = LOOPBACK, port: Port = SIMULATOR_PORT) -> None:
    """Serve the offline Bedrock simulator (bedrock-runtime's API, simulated replies).

    Example: relaykit simulator --port 8788
    """
    from relaykit.simulator.server import serve as run

    run(host, port, ready=lambda url: print(f"Bedrock simulator on {url} (Ctrl-C to stop)"))


def deploy_rehearsal(
    destroy: Annotated[bool, typer.Option(help="End with cdk destroy --all.")] = False,
    keep_serving: Annotated[
        bool, typer.Option(help="Then keep the embedded AWS up until Ctrl-C.")
    ] = False,
    context: Annotated[
        list[str] | None,
        typer.Option(
            "-c",
            "--context",
            metavar="KEY=VALUE",
            help="Context for the synthesis, as with cdk -c (relaykit.models=claude-haiku-4-5).",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option(help="Print the CDK CLI's output as it runs.")] = False,
) -> None:
    """Deploy the CDK app with the real CDK CLI into an embedded AWS (moto), offline.

    Example: relaykit deploy-rehearsal --destroy
    """
    from relaykit.rehearsal import RehearsalOptions, rehearse

    rehearse(
        RehearsalOptions(
            destroy=destroy,
            keep_serving=keep_serving,
            verbose=verbose,
            context=tuple(context or ()),
        )
    )
