"""One CloudWatch dashboard for the whole deployment, across its regions.

Widgets are written with aws_cloudwatch rather than cdk-monitoring-constructs because every
metric names its own region: the Hong Kong relay, its Bedrock region and the primary relay all
land on one dashboard, which the facade's per-stack monitors do not express directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from stacks.aws.config import RelayKitConfig
from stacks.aws.constructs import metrics

WIDTH = 24
HALF = 12
THIRD = 8


@dataclass(frozen=True)
class DeploymentDashboardProps:
    config: RelayKitConfig
    name: str


class DeploymentDashboard(Construct):
    """Provisions `dashboard`: Bedrock per model and region, then each relay's traffic, latency,
    time to first token, cost and cache hit rate. `widget_titles` lists what it shows."""

    def __init__(
        self, scope: Construct, construct_id: str, props: DeploymentDashboardProps
    ) -> None:
        super().__init__(scope, construct_id)
        config = props.config
        self.widget_titles: list[str] = []
        rows: list[list[cw.IWidget]] = [
            [cw.TextWidget(markdown=self._intro(config), width=WIDTH, height=2)]
        ]
        for region in config.bedrock_regions:
            targets = config.targets_in(region)
            rows.append(
                [
                    self._graph(
                        f"Bedrock {region}: invocations",
                        [metrics.bedrock(t, "Invocations") for t in targets],
                        THIRD,
                    ),
                    self._graph(
                        f"Bedrock {region}: latency (ms)",
                        [
                            metrics.bedrock(t, "InvocationLatency", s)
                            for t in targets
                            for s in ("Average", "p99")
                        ],
                        THIRD,
                    ),
                    self._graph(
                        f"Bedrock {region}: errors and throttles",
                        [
                            metrics.bedrock(t, name)
                            for t in targets
                            for name in (
                                "InvocationClientErrors",
                                "InvocationServerErrors",
                                "InvocationThrottles",
                            )
                        ],
                        THIRD,
                    ),
                ]
            )
            rows.append(
                [
                    self._graph(
                        f"Bedrock {region}: tokens",
                        [
                            metrics.bedrock(t, name)
                            for t in targets
                            for name in ("InputTokenCount", "OutputTokenCount")
                        ],
                        WIDTH,
                    )
                ]
            )
        settings = config.settings
        namespace, stage = settings.metrics_namespace, settings.stage_name
        for site in config.relays:
            aliases = [t.model.alias for t in site.targets]
            rows.append(
                [
                    self._graph(
                        f"Relay {site.name}: requests, 4xx, 5xx",
                        [metrics.api(site, stage, n) for n in ("Count", "4XXError", "5XXError")],
                        THIRD,
                    ),
                    self._graph(
                        f"Relay {site.name}: latency p50/p95/p99 (ms)",
                        [metrics.api(site, stage, "Latency", s) for s in ("p50", "p95", "p99")],
                        THIRD,
                    ),
                    self._graph(
                        f"Relay {site.name}: time to first token (ms)",
                        [
                            metrics.relay(site, namespace, a, "TimeToFirstToken", s)
                            for a in aliases
                            for s in ("p50", "p95", "p99")
                        ],
                        THIRD,
                    ),
                ]
            )
            hit_rates = [
                cw.MathExpression(
                    expression="100 * hits / requests",
                    using_metrics={
                        "hits": metrics.relay(site, namespace, a, "CacheHits"),
                        "requests": metrics.relay(site, namespace, a, "Requests"),
                    },
                    label=f"{a} cache hit rate (%)",
                    period=metrics.FIVE_MINUTES,
                )
                for a in aliases
            ]
            rows.append(
                [
                    self._graph(
                        f"Relay {site.name}: cost (USD)",
                        [
                            metrics.relay(site, namespace, a, "CostUSD", period=metrics.ONE_DAY)
                            for a in aliases
                        ],
                        HALF,
                    ),
                    self._graph(f"Relay {site.name}: cache hit rate (%)", hit_rates, HALF),
                ]
            )
            # Emitted only by requests a router or a budget downgrade served with another
            # model than the one asked for (relay/metrics.py), and by hedged or slow streams.
            rows.append(
                [
                    self._graph(
                        f"Relay {site.name}: routing savings (USD)",
                        [
                            metrics.relay(site, namespace, a, "SavedUSD", period=metrics.ONE_DAY)
                            for a in aliases
                        ],
                        HALF,
                    ),
                    self._graph(
                        f"Relay {site.name}: downgrades, hedges, slow failovers",
                        [
                            metrics.relay(site, namespace, a, name)
                            for a in aliases
                            for name in ("Downgrades", "Hedges", "HedgeWins", "SlowFailovers")
                        ],
                        HALF,
                    ),
                ]
            )
        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=props.name)
        for row in rows:
            self.dashboard.add_widgets(*row)

    def _graph(self, title: str, left: Sequence[cw.IMetric], width: int) -> cw.GraphWidget:
        self.widget_titles.append(title)
        return cw.GraphWidget(title=title, left=list(left), width=width, height=6)

    @staticmethod
    def _intro(config: RelayKitConfig) -> str:
        relays = ", ".join(
            f"{r.name} in {r.region} (Bedrock {r.bedrock_region})" for r in config.relays
        )
        models = ", ".join(m.alias for m in config.models)
        routing = config.settings.routing.value
        return f"# Claude relay\nRelays: {relays}. Models: {models}. Routing: {routing}."
