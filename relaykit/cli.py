"""The `relaykit` console script: serve the relay, run the Bedrock simulator, the local quickstart,
rehearse the AWS deploy.

Exit codes: 0 on success, 1 with one line on stderr on failure, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from relay.catalog import Routing
from relay.settings import ConfigError
from relaykit.keys_cli import add_commands as add_key_commands

DEFAULT_PORT = 8787
SIMULATOR_PORT = 8788


def _relay_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on")
    parser.add_argument(
        "--backend",
        choices=("simulator", "bedrock"),
        default="simulator",
        help="the offline Bedrock simulator (default) or real Amazon Bedrock (needs credentials)",
    )
    parser.add_argument(
        "--region", default="us-east-1", help="Bedrock region to call (default us-east-1)"
    )
    parser.add_argument(
        "--routing",
        type=Routing,
        choices=list(Routing),
        default=Routing.GLOBAL,
        help="global inference profile (default), geographic profile, or in-region model",
    )
    parser.add_argument(
        "--key",
        help="a fixed API key to accept, without limits (default: issue a key with limits)",
    )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="relaykit", description="Your own Claude endpoint: relay, simulator, local quickstart."
    )
    commands = root.add_subparsers(dest="command", required=True)

    local = commands.add_parser(
        "local", help="start the relay on localhost, call it with the anthropic SDK, keep serving"
    )
    _relay_options(local)
    local.add_argument(
        "--bedrock",
        dest="backend",
        action="store_const",
        const="bedrock",
        help="same as --backend bedrock: serve real Bedrock with your AWS credentials",
    )
    local.add_argument(
        "--once", action="store_true", help="exit after the demo calls instead of serving"
    )
    local.add_argument(
        "--deploy",
        action="store_true",
        help="first deploy the CDK app into an embedded AWS (relaykit deploy-rehearsal)",
    )

    serve = commands.add_parser("serve", help="serve the relay in the foreground")
    _relay_options(serve)
    serve.add_argument(
        "--keep-alive", type=float, default=65.0, help="idle keep-alive seconds (default 65)"
    )
    serve.add_argument(
        "--limit-concurrency",
        type=int,
        default=800,
        help="connections at once before answering 503 (default 800)",
    )
    serve.add_argument(
        "--graceful-shutdown",
        type=float,
        default=120.0,
        help="seconds a shutdown waits for open requests and streams (default 120)",
    )

    commands.add_parser("models", help="list the model catalog: ids, lifecycle, profiles, prices")
    add_key_commands(commands)

    rehearsal = commands.add_parser(
        "deploy-rehearsal",
        help="deploy the CDK app with the real CDK CLI into an embedded AWS (moto), offline",
    )
    rehearsal.add_argument("--destroy", action="store_true", help="end with cdk destroy --all")
    rehearsal.add_argument(
        "--keep-serving", action="store_true", help="then keep the embedded AWS up until Ctrl-C"
    )
    rehearsal.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="context for the synthesis, as with cdk -c (e.g. relaykit.models=claude-haiku-4-5)",
    )
    rehearsal.add_argument(
        "--verbose", action="store_true", help="print the CDK CLI's output as it runs"
    )

    simulator = commands.add_parser("simulator", help="serve the offline Bedrock simulator")
    simulator.add_argument("--host", default="127.0.0.1", help="address to listen on")
    simulator.add_argument("--port", type=int, default=SIMULATOR_PORT, help="port to listen on")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "local":
            from relaykit.local import LocalOptions, run_local

            options = LocalOptions(
                host=args.host,
                port=args.port,
                backend=args.backend,
                region=args.region,
                routing=args.routing,
                key=args.key,
                serve=not args.once,
            )
            if args.deploy:
                from relaykit.rehearsal import RehearsalOptions, rehearsed

                with rehearsed(RehearsalOptions()):
                    print()
                    run_local(options)
            else:
                run_local(options)
        elif args.command == "serve":
            from relaykit.serve import ServerOptions, serve

            server = ServerOptions(args.keep_alive, args.limit_concurrency, args.graceful_shutdown)
            serve(args.host, args.port, args.backend, args.region, args.routing, args.key, server)
        elif args.command in ("keys", "usage"):
            from relaykit.keys_cli import run

            run(args)
        elif args.command == "deploy-rehearsal":
            from relaykit.rehearsal import RehearsalOptions, rehearse

            rehearse(
                RehearsalOptions(
                    destroy=args.destroy,
                    keep_serving=args.keep_serving,
                    verbose=args.verbose,
                    context=tuple(args.context),
                )
            )
        elif args.command == "models":
            from relaykit.models import table

            print(table())
        else:
            from relaykit.simulator.server import serve as serve_simulator

            print(f"Bedrock simulator on http://{args.host}:{args.port} (Ctrl-C to stop)")
            serve_simulator(args.host, args.port)
    except KeyboardInterrupt:
        return 0
    except (ConfigError, OSError, RuntimeError, LookupError) as error:
        print(f"relaykit: error: {error}", file=sys.stderr)
        return 1
    except Exception as error:
        # The anthropic SDK's errors during the demo, and anything unforeseen: one line.
        print(f"relaykit: error: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
