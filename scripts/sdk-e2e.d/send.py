#!/usr/bin/env python3
"""Sends a known set of GenAI telemetry through the OpenTelemetry Python SDK and one OTLP exporter.

Usage: send.py --protocol grpc|http_protobuf|http_json --endpoint URL --conversation-id ID
               --chats N --tools M --logs L --manifest OUT.json

One conversation (`gen_ai.conversation.id` on the resource and on every span, log record and data
point), sent as:
  spans:   1 `invoke_agent` span (a turn) parenting N `chat` spans (API requests, with token usage)
           and M `execute_tool` spans (tool calls);
  logs:    L plain log records;
  metrics: `gen_ai.client.token.usage` (2 points: input, output), `gen_ai.client.operation.duration`
           (1 point) and `sdk_e2e.tool.invocations` (1 point per tool, M points).

Each exporter's `export` is wrapped to count the records the SDK actually handed it and the results
it returned. The sender fails unless every export succeeded and the counts are the ones planned, and
writes a manifest (what it sent, what the server should show) for scripts/sdk-e2e.d/check.py.

The `http_json` exporter (opentelemetry-exporter-otlp-json-http) pins other versions of shared
helper packages than the protobuf exporters, so it lives in its own virtualenv; this file imports
only what the chosen protocol needs.
"""

import argparse
import json
import sys
import time

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, set_span_in_context
from opentelemetry._logs import SeverityNumber

CONV = "gen_ai.conversation.id"


def exporters(protocol, endpoint):
    """(span, log, metric) exporters for `protocol`; `endpoint` is the collector's base URL."""
    base = endpoint.rstrip("/")
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return (
            OTLPSpanExporter(endpoint=base, insecure=True, timeout=10),
            OTLPLogExporter(endpoint=base, insecure=True, timeout=10),
            OTLPMetricExporter(endpoint=base, insecure=True, timeout=10),
        )
    if protocol == "http_protobuf":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    elif protocol == "http_json":
        from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.json.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter
    else:
        raise SystemExit(f"send.py: unknown protocol {protocol!r}")
    return (
        OTLPSpanExporter(endpoint=f"{base}/v1/traces", timeout=10),
        OTLPLogExporter(endpoint=f"{base}/v1/logs", timeout=10),
        OTLPMetricExporter(endpoint=f"{base}/v1/metrics", timeout=10),
    )


class Tally:
    """Counts what an exporter was handed and what it answered, by wrapping its `export`."""

    def __init__(self, exporter, count):
        self.records = 0
        self.calls = 0
        self.failures = []
        inner = exporter.export

        def export(batch, *args, **kwargs):
            result = inner(batch, *args, **kwargs)
            self.calls += 1
            self.records += count(batch)
            if getattr(result, "name", str(result)) != "SUCCESS":
                self.failures.append(str(result))
            return result

        exporter.export = export


def metric_points(metrics_data):
    n = 0
    for rm in metrics_data.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                n += len(m.data.data_points)
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--protocol", required=True, choices=["grpc", "http_protobuf", "http_json"])
    ap.add_argument("--endpoint", required=True, help="grpc: http://HOST:PORT; http: http://HOST:PORT")
    ap.add_argument("--conversation-id", required=True)
    ap.add_argument("--chats", type=int, default=3)
    ap.add_argument("--tools", type=int, default=2)
    ap.add_argument("--logs", type=int, default=4)
    ap.add_argument("--manifest", required=True)
    a = ap.parse_args()
    conv = a.conversation_id
    name = f"python-{a.protocol}"

    resource = Resource.create({
        "service.name": "sdk-e2e-python",
        "service.version": "0.0.0",
        CONV: conv,
    })
    span_exp, log_exp, metric_exp = exporters(a.protocol, a.endpoint)
    spans_sent = Tally(span_exp, len)
    logs_sent = Tally(log_exp, len)
    points_sent = Tally(metric_exp, metric_points)

    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exp))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exp))
    # One export, at shutdown: the interval is never reached by a sender that runs for a second.
    reader = PeriodicExportingMetricReader(metric_exp, export_interval_millis=3_600_000)
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])

    tracer = tracer_provider.get_tracer("sdk-e2e")
    logger = logger_provider.get_logger("sdk-e2e")
    meter = meter_provider.get_meter("sdk-e2e")
    token_usage = meter.create_histogram("gen_ai.client.token.usage", unit="{token}")
    duration = meter.create_histogram("gen_ai.client.operation.duration", unit="s")
    tool_invocations = meter.create_counter("sdk_e2e.tool.invocations", unit="{call}")

    model = "sdk-e2e-model"
    tokens_in = tokens_out = 0
    with tracer.start_as_current_span(
        f"invoke_agent {name}",
        kind=SpanKind.INTERNAL,
        attributes={CONV: conv, "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": name},
    ) as turn:
        ctx = set_span_in_context(turn)
        for i in range(a.chats):
            t_in, t_out = 100 * (i + 1), 10 * (i + 1)
            tokens_in += t_in
            tokens_out += t_out
            with tracer.start_as_current_span(
                f"chat {model}",
                context=ctx,
                kind=SpanKind.CLIENT,
                attributes={
                    CONV: conv,
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": model,
                    "gen_ai.response.model": model,
                    "gen_ai.response.id": f"{conv}-resp-{i}",
                    "gen_ai.usage.input_tokens": t_in,
                    "gen_ai.usage.output_tokens": t_out,
                },
            ):
                pass
            common = {CONV: conv, "gen_ai.operation.name": "chat", "gen_ai.request.model": model}
            token_usage.record(t_in, {**common, "gen_ai.token.type": "input"})
            token_usage.record(t_out, {**common, "gen_ai.token.type": "output"})
            duration.record(0.25 * (i + 1), common)
        for j in range(a.tools):
            tool = f"sdk_e2e_tool_{j}"
            with tracer.start_as_current_span(
                f"execute_tool {tool}",
                context=ctx,
                kind=SpanKind.INTERNAL,
                attributes={
                    CONV: conv,
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": tool,
                    "gen_ai.tool.call.id": f"{conv}-call-{j}",
                    "gen_ai.tool.type": "function",
                },
            ):
                pass
            tool_invocations.add(1, {CONV: conv, "gen_ai.tool.name": tool})
        for k in range(a.logs):
            logger.emit(
                timestamp=time.time_ns(),
                severity_number=SeverityNumber.INFO,
                severity_text="INFO",
                body=f"sdk-e2e {name} log record {k}",
                attributes={CONV: conv, "sdk_e2e.index": k},
            )

    # Shutdown flushes each pipeline; metrics are collected and exported once, here.
    tracer_provider.force_flush()
    logger_provider.force_flush()
    tracer_provider.shutdown()
    logger_provider.shutdown()
    meter_provider.shutdown()

    planned = {"spans": 1 + a.chats + a.tools, "logs": a.logs, "metric_points": 3 + a.tools}
    sent = {"spans": spans_sent.records, "logs": logs_sent.records, "metric_points": points_sent.records}
    failures = {k: t.failures for k, t in
                (("spans", spans_sent), ("logs", logs_sent), ("metric_points", points_sent)) if t.failures}
    if failures:
        sys.exit(f"send.py [{name}]: the exporter reported failed exports: {failures}")
    if sent != planned:
        sys.exit(f"send.py [{name}]: exporters were handed {sent}, planned {planned}")

    manifest = {
        "sender": name,
        "sdk": "opentelemetry-python",
        "protocol": a.protocol,
        "conversation_id": conv,
        "sent": {"traces": sent["spans"], "logs": sent["logs"], "metrics": sent["metric_points"]},
        "exports": {"traces": spans_sent.calls, "logs": logs_sent.calls, "metrics": points_sent.calls},
        "session": {"turns": 1, "api_requests": a.chats, "tool_calls": a.tools,
                    "tool_errors": 0, "api_errors": 0},
        "tokens": {"input": tokens_in, "output": tokens_out},
    }
    with open(a.manifest, "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"{name}: sent {sent['spans']} spans, {sent['logs']} log records, "
          f"{sent['metric_points']} metric data points (conversation {conv})")


if __name__ == "__main__":
    main()
